"""The app under test as in production, on a test database; and one with a key ring of its own."""
from __future__ import annotations

from typing import Iterator

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from app import create_app
from app.ops.embedded_db import RUNTIME_ROLE
from config import TestConfig
from tests.support.postgres import Server

ADMIN_PASSWORD = "Admin-test-password-42"


def make_app(server: Server, database_url: str, **overrides) -> Flask:
    """The app as in production: requests use the runtime role, migrations the owner."""
    name = make_url(database_url).database
    overrides.setdefault("MIGRATION_DATABASE_URL", database_url)
    overrides.setdefault("INSTANCE_DIR", server.instance)
    return create_app(TestConfig, DATABASE_URL=server.url(name, RUNTIME_ROLE), SECRET_KEY="test-secret-key-of-at-least-32-bytes!",
                      **overrides)


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
