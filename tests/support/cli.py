"""The operator's command line: `flask crm ...` on an app, and a CRM of its own to run it on."""
from __future__ import annotations

from typing import Iterator

import pytest
from flask import Flask

from app import create_app
from app.ops.embedded_db import EmbeddedPostgres
from config import TestConfig


def crm_cli(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=["crm", *args])


@pytest.fixture
def crm(tmp_path) -> Iterator[tuple[Flask, EmbeddedPostgres]]:
    """A CRM of its own (not the shared test server), as `make run` makes it: pg_basebackup needs the whole cluster."""
    instance = tmp_path / "instance"
    server = EmbeddedPostgres(instance)
    server.start()
    try:
        app = create_app(TestConfig, INSTANCE_DIR=instance, SECRET_KEY="test", DEMO_DATA=True,
                         ADMIN_PASSWORD="Backup-admin-42")
        with app.app_context():
            from flask_migrate import upgrade

            from app.ops.bootstrap import bootstrap

            upgrade()
            bootstrap(app, echo=lambda *_: None)
        yield app, server
    finally:
        server.stop()
