"""`flask --app run crm logs maintain`: partitions ahead, retention by dropping old months."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.audit.maintenance import maintain_logs

logs_group = AppGroup("logs", help="The audit log.")


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
