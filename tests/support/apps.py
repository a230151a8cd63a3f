"""The app under test as in production, on a test database; and one with a key ring of its own."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from app import create_app
from app.ops.embedded_db import LEAKPROOF_SEARCH, RUNTIME_ROLE
from config import TestConfig
from tests.support.postgres import Server

ADMIN_PASSWORD = "Admin-test-password-42"
TEMPLATE = "crm_test_template"


def make_app(server: Server, database_url: str, **overrides) -> Flask:
    """The app as in production: requests use the runtime role, migrations the owner."""
    name = make_url(database_url).database
    overrides.setdefault("MIGRATION_DATABASE_URL", database_url)
    overrides.setdefault("INSTANCE_DIR", server.instance)
    return create_app(TestConfig, DATABASE_URL=server.url(name, RUNTIME_ROLE), SECRET_KEY="test-secret-key-of-at-least-32-bytes!",
                      **overrides)


@contextmanager
def captured_statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's engine sends inside the block, in order."""
    from sqlalchemy import event

    from app.extensions import db

    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731  (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def db_name(app: Flask) -> str:
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database


@pytest.fixture
def own_ring_app(pg: Server, database: str, tmp_path) -> Iterator[Flask]:
    """An app with its own instance dir, so rotating keys leaves the session's ring alone."""
    from app.extensions import db

    application = make_app(pg, database, INSTANCE_DIR=tmp_path)
    yield application
    with application.app_context():
        db.engine.dispose()


def prepare_template(server: Server) -> None:
    """Build the template every test database is cloned from: `flask db upgrade` plus the start-up sync."""
    from flask_migrate import upgrade

    from app.extensions import db
    from app.ops.bootstrap import bootstrap
    from app.ops.embedded_db import OWNER_ROLE

    for role in (OWNER_ROLE, RUNTIME_ROLE):  # an external server: the roles the embedded one creates itself
        if server.embedded is None and not server.execute(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'"):
            server.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{server.password(role)}'")
    url = server.create_database(TEMPLATE)
    app = make_app(server, url, ADMIN_PASSWORD=ADMIN_PASSWORD)
    with app.app_context():
        upgrade()
        server.execute(LEAKPROOF_SEARCH, database=TEMPLATE)  # as `crm bootstrap` does on the embedded server
        bootstrap(app, echo=lambda *_: None)
        db.session.remove()
        db.engine.dispose()


@contextmanager
def team_instance(server: Server, name: str, users: dict[str, str],
                  teams: dict[str, str]) -> Iterator[tuple[Flask, object]]:
    """A database of its own: `users` (username: role, with ROLE_PASSWORD) in `teams` (username: team name);
    yields the app and an engine on the owner role (not limited by row-level security)."""
    from sqlalchemy import create_engine, text

    from app.extensions import db
    from tests.support.users import ROLE_PASSWORD, add_user

    app = make_app(server, server.create_database(name, template=TEMPLATE))
    owner = create_engine(server.url(name))
    for username, role in users.items():
        add_user(app, username, username, "User", role, ROLE_PASSWORD)
    with owner.begin() as conn:
        for username, team in teams.items():
            conn.execute(text("INSERT INTO teams (name) VALUES (:t) ON CONFLICT (name) DO NOTHING"), {"t": team})
            conn.execute(text("UPDATE users SET team_id = (SELECT team_id FROM teams WHERE name = :t) "
                              "WHERE username = :u"), {"t": team, "u": username})
    try:
        yield app, owner
    finally:
        owner.dispose()
        with app.app_context():
            db.engine.dispose()
        server.drop_database(name)
