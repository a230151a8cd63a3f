"""`crm status` (jobs, backups, drills, disk) and `crm scheduler run` (what `crm serve` starts)."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from app.extensions import db
from app.scheduler import state
from app.scheduler.catalog import jobs_for
from app.scheduler.health import degraded_reasons
from app.scheduler.runner import Runner
from app.scheduler.status import BAD, WARN, Section, sections

STOP_GRACE = 10.0  # seconds a running job gets to finish after SIGTERM/Ctrl-C; then it is marked interrupted
MARKS = {BAD: "!!", WARN: "! "}


def render(section: Section) -> list[str]:
    """A section as aligned text lines (problems marked with ! and !!)."""
    lines = [section.title, "-" * len(section.title)]
    table = ([section.headers] if section.headers else []) + section.rows
    widths = [max(len(row[i]) for row in table if i < len(row)) for i in range(max(map(len, table), default=0))]
    levels = ([""] if section.headers else []) + section.levels
    for row, level in zip(table, levels):
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append(f"{MARKS.get(level, '  ')} " + "  ".join(cells).rstrip())
    if section.note:
        lines.append(f"   {section.note}")
    return lines


@click.command("status")
@with_appcontext
def status_command() -> None:
    """Jobs (last and next run, duration, size), the last restore drill, backups, disk use."""
    app = current_app._get_current_object()
    try:
        reasons = degraded_reasons(app)
        click.echo(f"Health: {'degraded: ' + ', '.join(reasons) if reasons else 'ok'}\n")
        for section in sections(app):
            click.echo("\n".join(render(section)) + "\n")
    finally:
        db.session.remove()


scheduler_group = AppGroup("scheduler", help="The job scheduler (`crm serve` starts it; CRM_SCHEDULER=0 does not).")


@scheduler_group.command("run")
@click.option("--once", is_flag=True, help="Run the jobs that are due now, then exit.")
def run_command(once: bool) -> None:
    """Run the scheduled jobs in the foreground until SIGTERM or Ctrl-C (or once, with --once)."""
    app = current_app._get_current_object()
    runner = Runner(app, jobs_for(app.config))
    if once:
        ran = runner.run_once()
        with app.app_context():
            rows = state.rows()
            db.session.remove()
        for name in ran:
            row = rows[name]
            click.echo(f"{name}: {row.last_status} in {row.last_duration:.1f}s: {row.last_message or ''}")
        if not ran:
            click.echo("no job due")
        if any(rows[name].last_status != state.OK for name in ran):
            sys.exit(1)
        return
    # one line per run in the service's log (journalctl -u crm): started, ok or failed, and why
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    runner.start()
    click.echo(f"Scheduler: {', '.join(j.name for j in runner.jobs)} (pid {os.getpid()})")
    stop.wait()
    left = runner.stop(STOP_GRACE)
    if left:
        click.echo(f"Scheduler stopped; interrupted: {', '.join(left)} (they run again at the next start)")
        sys.stdout.flush()
        os._exit(0)  # a job thread is still inside a tool: do not wait for it at interpreter exit
    click.echo("Scheduler stopped.")
