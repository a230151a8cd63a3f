"""Test fixtures: one real PostgreSQL per session, a fresh database per test.

The session starts the embedded PostgreSQL 18 server (or uses the server in
TEST_ADMIN_DATABASE_URL, a superuser URL of an external PostgreSQL 15+),
builds a template database with `flask db upgrade` plus the start-up sync,
and clones it (CREATE DATABASE ... TEMPLATE) for every test.
"""
from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from app import create_app
from app.ops.embedded_db import OWNER_ROLE, RUNTIME_ROLE, EmbeddedPostgres
from config import TestConfig

ADMIN_PASSWORD = "Admin-test-password-42"
TEMPLATE = "crm_test_template"
_counter = itertools.count()


class Server:
    """A PostgreSQL server the tests may create databases on."""

    def __init__(self, instance: Path) -> None:
        self.instance = instance
        self.embedded: EmbeddedPostgres | None = None
        external = os.environ.get("TEST_ADMIN_DATABASE_URL")
        if external:
            self.admin_url = make_url(external).set(drivername="postgresql+psycopg")
        else:
            self.embedded = EmbeddedPostgres(instance)
            self.embedded.start()
            self.admin_url = make_url(self.embedded.url("postgres", "postgres"))

    def libpq(self, database: str = "postgres", role: str | None = None) -> str:
        url = self.admin_url.set(drivername="postgresql", database=database)
        if role:
            url = url.set(username=role, password=self.password(role))
        return url.render_as_string(hide_password=False)

    def password(self, role: str) -> str:
        return self.embedded.password(role) if self.embedded else f"{role}-test-password"

    def owner_password(self) -> str:
        return self.password(OWNER_ROLE)

    def url(self, database: str, role: str = OWNER_ROLE) -> str:
        return self.admin_url.set(database=database, username=role,
                                  password=self.password(role)).render_as_string(hide_password=False)

    def execute(self, sql: str, database: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.libpq(database), autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def create_database(self, name: str, template: str | None = None) -> str:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        clause = f' TEMPLATE "{template}"' if template else ""
        self.execute(f'CREATE DATABASE "{name}" OWNER {OWNER_ROLE}{clause}')
        self.execute(f"ALTER SCHEMA public OWNER TO {OWNER_ROLE}", database=name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.embedded:
            self.embedded.stop()


def make_app(server: Server, database_url: str, **overrides) -> Flask:
    """The app as in production: requests use the runtime role, migrations the owner."""
    name = make_url(database_url).database
    overrides.setdefault("MIGRATION_DATABASE_URL", database_url)
    overrides.setdefault("INSTANCE_DIR", server.instance)
    return create_app(TestConfig, DATABASE_URL=server.url(name, RUNTIME_ROLE), SECRET_KEY="test-secret-key-of-at-least-32-bytes!",
                      **overrides)


@pytest.fixture(scope="session")
def pg(tmp_path_factory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("instance"))
    if server.embedded is None and not server.execute(
            f"SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}'"):
        server.execute(f"CREATE ROLE {OWNER_ROLE} LOGIN PASSWORD '{server.owner_password()}'")
    if server.embedded is None and not server.execute(
            f"SELECT 1 FROM pg_roles WHERE rolname = '{RUNTIME_ROLE}'"):
        server.execute(f"CREATE ROLE {RUNTIME_ROLE} LOGIN PASSWORD '{server.password(RUNTIME_ROLE)}'")
    url = server.create_database(TEMPLATE)
    app = make_app(server, url, ADMIN_PASSWORD=ADMIN_PASSWORD)
    with app.app_context():
        from flask_migrate import upgrade

        from app.ops.bootstrap import bootstrap
        from app.extensions import db

        upgrade()
        bootstrap(app, echo=lambda *_: None)
        db.session.remove()
        db.engine.dispose()
    yield server
    server.drop_database(TEMPLATE)
    server.stop()


@pytest.fixture
def database(pg: Server) -> Iterator[str]:
    name = f"crm_test_{os.getpid()}_{next(_counter)}"
    url = pg.create_database(name, template=TEMPLATE)
    yield url
    pg.drop_database(name)


@pytest.fixture
def app(pg: Server, database: str) -> Iterator[Flask]:
    # No app context stays pushed: each request gets its own, as in production
    # (a shared one would share flask.g, and so the logged-in user, between clients).
    application = make_app(pg, database)
    yield application
    from app.extensions import db

    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def sql(app: Flask):
    """Run plain SQL on the test database (its own transaction, committed) and return rows."""
    from sqlalchemy import text

    from app.extensions import db

    def run(statement: str, **params):
        with app.app_context(), db.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return result.fetchall() if result.returns_rows else []

    return run


CSRF_RE = re.compile(r'name="csrf[_-]token"[^>]*(?:value|content)="([^"]+)"')


def csrf_token(client: FlaskClient, url: str) -> str:
    page = client.get(url)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({page.status_code})"
    return match.group(1)


def login(client: FlaskClient, username: str = "admin", password: str = ADMIN_PASSWORD):
    token = csrf_token(client, "/login/")
    return client.post("/login/", data={"username": username, "password": password, "csrf_token": token})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    response = login(client)
    assert response.status_code == 302 and "/login" not in response.headers["Location"]
    return client


def post_form(client: FlaskClient, url: str, data: dict, form_url: str | None = None):
    """POST a FAB form with the CSRF token taken from the page, as a browser would."""
    token = csrf_token(client, form_url or url)
    return client.post(url, data={**data, "csrf_token": token})


def flashes(response_or_client) -> str:
    """Flashed messages rendered on the page the client lands on next."""
    client = response_or_client
    return client.get("/").get_data(as_text=True)


@pytest.fixture
def add_rows(app: Flask):
    """Insert rows through the ORM (encrypted amounts cannot be written with plain SQL); returns ids."""
    from sqlalchemy import inspect

    from app.extensions import db

    def run(model: type, *rows: dict) -> list[int]:
        with app.app_context():
            objects = [model(**row) for row in rows]
            db.session.add_all(objects)
            db.session.commit()
            return [inspect(o).identity[0] for o in objects]

    return run


@pytest.fixture
def owner_sql(pg: Server, database: str):
    """Plain SQL as the schema owner (what an operator in psql or a migration may do)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(pg.url(make_url(database).database))

    def run(statement: str, **params):
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return result.fetchall() if result.returns_rows else []

    yield run
    engine.dispose()
