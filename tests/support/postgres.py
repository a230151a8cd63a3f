"""The PostgreSQL server the tests create databases on: embedded, or external (TEST_ADMIN_DATABASE_URL)."""
from __future__ import annotations

import os
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from app.ops.embedded_db import OWNER_ROLE, EmbeddedPostgres


class Server:
    """A PostgreSQL server the tests may create databases on.

    `instance` is the apps' instance dir (key ring, backups); the embedded server's data and
    passwords live in `server_dir`, which pytest-xdist workers share (see tests/conftest.py).
    """

    def __init__(self, instance: Path, server_dir: Path | None = None) -> None:
        self.instance = instance
        self.embedded: EmbeddedPostgres | None = None
        self.started = False
        external = os.environ.get("TEST_ADMIN_DATABASE_URL")
        if external:
            self.admin_url = make_url(external).set(drivername="postgresql+psycopg")
        else:
            self.embedded = EmbeddedPostgres(server_dir or instance)
            self.started = self.embedded.start()
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
        """Stop the embedded server if this object started it (a worker leaves the shared one running)."""
        if self.embedded and self.started:
            self.embedded.stop()
