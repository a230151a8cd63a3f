"""`flask --app run crm ...`: the operator's command line (contract §4).

The `crm` group holds the start-up commands; every other command is defined in
its feature's own `cli` module and registered here, the one place.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any, Callable

import click
from flask import current_app
from flask.cli import AppGroup

from app.crud.cli import describe_view_command
from app.audit.cli import logs_group
from app.backup.cli import backup_group, restore_command
from app.encryption.cli import rotate_key
from app.extensions import db
from app.fields.cli import fields_group
from app.ops.bootstrap import bootstrap
from app.ops.database import embedded_server, masked
from app.reports.cli import reports_group
from app.scheduler.catalog import jobs_for, scheduler_enabled
from app.scheduler.cli import scheduler_group, status_command
from app.security.api_keys_cli import apikey_group
from app.security.users_cli import create_admin, create_user, user_group
from app.seed.cli import seed_command
from app.webhooks.cli import webhook_group
from config import BASE_DIR

crm = AppGroup("crm", help="CRM back-office operations.")
crm.add_command(describe_view_command)


@crm.command("db-url")
def db_url() -> None:
    """Print the database URL in use (password masked)."""
    click.echo(masked(current_app.config["SQLALCHEMY_DATABASE_URI"]))


def migrate_and_bootstrap(app, echo: Callable[..., Any] = click.echo) -> None:
    """Once per start (not per worker): runtime role, migrations, roles, admin, demo data.

    The one way to bring a database up to date: `crm serve`, `crm bootstrap` and the bench
    (bench/screens.py) come here. On the embedded server the search's functions are marked LEAKPROOF
    after the migrations, or its conditions cannot use their indexes under row-level security."""
    from flask_migrate import upgrade

    embedded = not app.config.get("DATABASE_URL")
    if embedded:
        embedded_server(app.config).ensure_runtime_role()  # also on a server started by older code
        start_wal_archiving(app, echo)
    upgrade()
    if embedded:
        embedded_server(app.config).mark_search_leakproof()  # the functions of the migrations too
    bootstrap(app, echo=echo)


def start_wal_archiving(app, echo: Callable[..., Any] = click.echo) -> None:
    """Continuous WAL archiving for point-in-time recovery (a restart the first time: archive_mode)."""
    from app.backup.settings import settings_from_config
    from app.backup.wal import setup_archiving

    if os.environ.get("CRM_WAL_ARCHIVE", "1") == "0":
        return
    echo(setup_archiving(settings_from_config(app.config, progress=False), restart=True))
    db.engine.dispose()  # a restart closed the pooled connections


@crm.command("bootstrap")
def bootstrap_command() -> None:
    """Apply migrations, sync roles and permissions, ensure admin, load demo data."""
    migrate_and_bootstrap(current_app._get_current_object())


def default_workers() -> int:
    """CRM_WORKERS, else one per CPU core plus one.

    More processes only share the same cores (throughput and memory per worker:
    docs/performance.md); the spare worker keeps pages coming while a long request
    (a large export) runs. FAB's views keep per-request state on shared objects, so
    gunicorn's threaded workers are not an option.
    """
    return int(os.environ.get("CRM_WORKERS") or (os.cpu_count() or 1) + 1)


@crm.command("serve")
@click.option("--workers", type=int, default=lambda: default_workers())
def serve(workers: int) -> None:
    """Bootstrap, then serve with gunicorn until Ctrl-C; stops the embedded database too."""
    app = current_app._get_current_object()
    migrate_and_bootstrap(app)
    db.session.remove()
    db.engine.dispose()  # workers open their own connections; none may outlive the server
    host, port = app.config["HOST"], app.config["PORT"]
    # no control socket: its default path is shared by every gunicorn of this OS user
    cmd = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"{host}:{port}",
           "--access-logfile", "-", "--graceful-timeout", "10", "--no-control-socket", "run:app"]
    scheduler = start_scheduler(app)
    click.echo(f"Serving on http://{host}:{port}/ (Ctrl-C stops the app and the database)")
    proc = subprocess.Popen(cmd, cwd=BASE_DIR)

    def forward(signum, _frame):
        for child in (proc, scheduler):
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        code = proc.wait()
    finally:
        stop_scheduler(scheduler)
        if not app.config.get("DATABASE_URL"):
            embedded_server(app.config).stop()
            click.echo("Embedded PostgreSQL stopped.")
    sys.exit(0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code)


def start_scheduler(app) -> subprocess.Popen | None:
    """`crm scheduler run` beside gunicorn, unless CRM_SCHEDULER=0 (or DATABASE_URL without CRM_SCHEDULER=1).

    A process of its own, in its own session: Ctrl-C in the terminal does not reach the tools a
    job runs (pg_basebackup, a drill's server); `serve` stops it with SIGTERM instead.
    """
    jobs = jobs_for(app.config)  # a bad CRM_JOB_INTERVALS stops the start here, not in the background
    if not scheduler_enabled(app.config):
        click.echo("Scheduler off (CRM_SCHEDULER=0, or DATABASE_URL without CRM_SCHEDULER=1).")
        return None
    click.echo("Scheduler: " + ", ".join(j.name for j in jobs))
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "run", "crm", "scheduler", "run"],
                            cwd=BASE_DIR, start_new_session=True)


def stop_scheduler(scheduler: subprocess.Popen | None, timeout: float = 30) -> None:
    """SIGTERM (a running job gets a few seconds, then is marked interrupted), then what is left of its session."""
    if scheduler is None:
        return
    if scheduler.poll() is None:
        scheduler.send_signal(signal.SIGTERM)
    try:
        scheduler.wait(timeout)
    except subprocess.TimeoutExpired:
        scheduler.kill()
        scheduler.wait()
    try:  # a tool the interrupted job had started (its session has the scheduler's pid as id)
        os.killpg(scheduler.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@crm.command("psql", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def psql(args: tuple[str, ...]) -> None:
    """Open psql on the database in use."""
    from sqlalchemy.engine import make_url

    from app.ops.embedded_db import bin_path

    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    env = dict(os.environ)
    env.update({k: str(v) for k, v in {
        "PGHOST": url.query.get("host") or url.host, "PGPORT": url.port, "PGUSER": url.username,
        "PGPASSWORD": url.password, "PGDATABASE": url.database}.items() if v})
    # the embedded package's psql (PostgreSQL 18) also talks to any 15+ server
    sys.exit(subprocess.run([bin_path("psql"), *args], env=env).returncode)


for command in (create_admin, create_user, user_group, apikey_group, rotate_key, backup_group, restore_command,
                reports_group, logs_group, seed_command, status_command, scheduler_group, webhook_group,
                fields_group):
    crm.add_command(command)
