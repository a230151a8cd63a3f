"""Test fixtures: one real PostgreSQL per session, a fresh database per test.

The run starts the embedded PostgreSQL 18 server (or uses the server in
TEST_ADMIN_DATABASE_URL, a superuser URL of an external PostgreSQL 15+),
builds a template database with `flask db upgrade` plus the start-up sync
once (under pytest-xdist in the controller, before the workers start),
and clones it (CREATE DATABASE ... TEMPLATE) for every test. Only fixtures live here:
the helpers test modules import are in tests/support.
"""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.apps import ADMIN_PASSWORD, TEMPLATE, make_app, prepare_template
from tests.support.client import login
from tests.support.postgres import Server

_counter = itertools.count()
# Under pytest-xdist the controller starts one server and prepares the template once for the run;
# the workers find it through this variable (their environment is the controller's).
SHARED_SERVER = "CRM_TEST_SHARED_SERVER"


def _is_xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


# The files that keep a test process longest, longest first (per-file totals of a full run with
# `--durations`). pytest-xdist (--dist loadfile) hands files out in collection order: these start
# first, the short files fill in at the end, and both workers finish together. Its own order (files
# with the most tests first) would start long files of few tests last: turned off below.
LONGEST_FIRST = [  # over 110 s each in a full run on the shared machine (2026-12-06), about 35 s in CI
    "tests/web/test_bad_input.py",
    "tests/web/test_no_500.py",
    "tests/web/test_login_security.py",
    "tests/web/test_api.py",
    "tests/web/test_amounts_and_names.py",
    "tests/web/test_pipeline_board.py",
    "tests/web/test_reports.py",
    "tests/web/test_error_pages.py",
    "tests/web/test_api_schemathesis.py",
    "tests/web/test_api_keys.py",
    "tests/web/test_crawler.py",
    "tests/browser/test_lists.py",
    "tests/database/test_audit.py",
    "tests/web/test_lead_conversion.py",
    "tests/web/test_crud.py",
    "tests/web/test_search.py",
    "tests/web/test_csv_import.py",
    "tests/web/test_webhooks.py",
    "tests/web/test_list_search.py",
    "tests/web/test_csv_export.py",
    "tests/web/test_load_faults.py",
    "tests/database/test_schema.py",
    "tests/browser/test_a11y_en.py",
    "tests/browser/test_a11y_zh.py",
    "tests/cli/test_commands.py",
    "tests/web/test_audit.py",
    "tests/database/test_encryption.py",
    "tests/browser/test_keyboard.py",
    "tests/browser/test_records.py",
    "tests/web/test_related_selects.py",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))  # stable: files stay whole


def pytest_configure(config: pytest.Config) -> None:
    if _is_xdist_controller(config):
        config.option.loadscopereorder = False  # keep LONGEST_FIRST's order
        server_dir = Path(tempfile.mkdtemp(prefix="crm-test-pg-"))
        config.stash[_shared_key] = server = Server(server_dir)
        prepare_template(server)
        os.environ[SHARED_SERVER] = str(server_dir)


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_shared_key, None)
    if server is not None:
        server.drop_database(TEMPLATE)
        server.stop()
        shutil.rmtree(server.instance, ignore_errors=True)


_shared_key = pytest.StashKey[Server]()


@pytest.fixture(scope="session")
def pg(tmp_path_factory) -> Iterator[Server]:
    instance = tmp_path_factory.mktemp("instance")
    shared = os.environ.get(SHARED_SERVER)
    if shared:  # an xdist worker: the run's server and template, this worker's own instance dir
        yield Server(instance, server_dir=Path(shared))
        return
    server = Server(instance)
    prepare_template(server)
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
    """Run plain SQL on the test database as the runtime role, acting as the admin (who sees every record)."""
    from tests.support.users import sql_as

    return sql_as(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    response = login(client)
    assert response.status_code == 302 and "/login" not in response.headers["Location"]
    return client


@pytest.fixture
def token(client: FlaskClient) -> dict[str, str]:
    """Request headers with the admin's JWT from the API's sign-in."""
    response = client.post("/api/v1/security/login",
                           json={"username": "admin", "password": ADMIN_PASSWORD, "provider": "db"})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


@pytest.fixture
def add_rows(app: Flask):
    """Insert rows through the ORM (encrypted amounts cannot be written with plain SQL); returns ids."""
    from sqlalchemy import inspect

    from app.extensions import db

    from tests.support.users import as_admin

    def run(model: type, *rows: dict) -> list[int]:
        with as_admin(app):  # owned by the admin (row-level security)
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
