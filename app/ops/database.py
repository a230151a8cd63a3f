"""Which PostgreSQL the app talks to: DATABASE_URL, or the embedded server."""
from __future__ import annotations

import atexit
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from app.ops.embedded_db import OWNER_ROLE, RUNTIME_ROLE, EmbeddedPostgres


def normalize_url(url: str) -> str:
    """Accept postgres:// and postgresql:// too; always use the psycopg 3 driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("DATABASE_URL must point to PostgreSQL (postgresql+psycopg://...)")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def masked(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def embedded_server(config: Mapping) -> EmbeddedPostgres:
    return EmbeddedPostgres(Path(config["INSTANCE_DIR"]))


def resolve_database_url(config: Mapping) -> str:
    """The runtime URL; starts the embedded server when this process is the first to need it."""
    if config.get("DATABASE_URL"):
        return normalize_url(config["DATABASE_URL"])
    server = embedded_server(config)
    if config.get("EMBEDDED_AUTOSTART", True) and server.start():
        # We started it for this command (e.g. `flask db upgrade`): stop it on exit.
        atexit.register(server.stop)
    return server.url(RUNTIME_ROLE)  # least privilege: migrations use the owner (below)


def migration_database_url(config: Mapping) -> str:
    """The schema owner's URL: MIGRATION_DATABASE_URL, else DATABASE_URL, else the embedded owner."""
    if config.get("MIGRATION_DATABASE_URL"):
        return normalize_url(config["MIGRATION_DATABASE_URL"])
    if config.get("DATABASE_URL"):
        return normalize_url(config["DATABASE_URL"])
    return embedded_server(config).url(OWNER_ROLE)


def owner_conninfo(config: Mapping) -> str:
    """The schema owner's URL for libpq (psycopg directly): bulk loads that drop and rebuild indexes."""
    url = make_url(migration_database_url(config)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@contextmanager
def owner_engine(config: Mapping) -> Iterator[Engine]:
    """An engine on the schema owner's role, for maintenance that must see every row.

    Row-level security (migration 0026) limits the runtime role to the acting user's
    records; the owner role is not limited: demo data, report snapshots (company-wide
    figures) and the start-up checks use it. One connection at a time, closed after use.
    """
    engine = create_engine(migration_database_url(config), poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()
