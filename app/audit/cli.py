"""`flask --app run crm logs maintain`: partitions ahead, retention by dropping old months."""
from __future__ import annotations

import datetime as dt

import click
from flask import Flask, current_app
from sqlalchemy import create_engine

from app.audit.partitions import MaintenanceResult, maintain
from app.ops.cli import crm
from app.ops.database import migration_database_url
from app.extensions import db


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


@crm.group("logs")
def logs_group() -> None:
    """The audit log."""


@logs_group.command("maintain")
@click.option("--ahead", type=click.IntRange(3, 120), default=None,
              help="Months of partitions to keep ready after this one (default 3).")
@click.option("--retention-months", type=click.IntRange(0, 1200), default=None,
              help="Keep this month and N months before it; older partitions are dropped. "
                   "Default: CRM_LOG_RETENTION_MONTHS, or keep everything.")
def maintain_command(ahead: int | None, retention_months: int | None) -> None:
    """Create upcoming logs partitions and apply retention."""
    result = maintain_logs(current_app, ahead=ahead, retention_months=retention_months)
    click.echo(f"logs: {result.summary()}.")
