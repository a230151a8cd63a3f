"""`flask --app run crm reports generate [--type T]`."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.reports.generators import REPORT_TYPES, ReportsBusy, ReportsFailed, generate

reports_group = AppGroup("reports", help="Report snapshots for the dashboard.")


@reports_group.command("generate")
@click.option("--type", "types", multiple=True, type=click.Choice(sorted(REPORT_TYPES)),
              help="Report type to generate (repeatable); all types when not given.")
def generate_command(types: tuple[str, ...]) -> None:
    """Compute report snapshots into the reports table."""
    try:
        rows = generate(types or None, echo=click.echo)
    except (ReportsBusy, ReportsFailed) as exc:
        raise click.ClickException(str(exc))
    click.echo(f"{len(rows)} snapshot(s) written.")
