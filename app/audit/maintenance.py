"""Logs maintenance as the app runs it: on the owner's connection, with the configured defaults."""
from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import create_engine

from app.audit.partitions import MaintenanceResult, maintain
from app.extensions import db
from app.ops.database import migration_database_url


def maintain_logs(app: Flask, *, ahead: int | None = None, retention_months: int | None = None,
                  since: dt.date | None = None) -> MaintenanceResult:
    """Run maintenance as the owner role (MIGRATION_DATABASE_URL when the app runs least-privileged).

    `since`: the oldest day of back-dated rows about to be written (see `maintain`).
    """
    url = migration_database_url(app.config)
    owner = url != app.config["SQLALCHEMY_DATABASE_URI"]
    engine = create_engine(url) if owner else db.engine
    try:
        with engine.begin() as conn:
            return maintain(
                conn,
                ahead=app.config["LOG_PARTITIONS_AHEAD"] if ahead is None else ahead,
                retention_months=(app.config.get("LOG_RETENTION_MONTHS") if retention_months is None
                                  else retention_months),
                since=since,
            )
    finally:
        if owner:
            engine.dispose()
