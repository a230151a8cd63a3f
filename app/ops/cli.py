"""`flask --app run crm ...`: the operator's command line (contract §4)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.crud.cli import describe_view_command
from app.ops.bootstrap import bootstrap, generate_password
from app.ops.database import embedded_server, masked
from app.extensions import db
from app.models import Role, User
from app.security.passwords import change_password, set_password
from config import BASE_DIR

crm = AppGroup("crm", help="CRM back-office operations.")
crm.add_command(describe_view_command)


@crm.command("db-url")
def db_url() -> None:
    """Print the database URL in use (password masked)."""
    click.echo(masked(current_app.config["SQLALCHEMY_DATABASE_URI"]))


def migrate_and_bootstrap(app) -> None:
    """Once per start (not per worker): runtime role, migrations, roles, admin, demo data."""
    from flask_migrate import upgrade

    if not app.config.get("DATABASE_URL"):
        embedded_server(app.config).ensure_runtime_role()  # also on a server started by older code
    upgrade()
    bootstrap(app, echo=click.echo)


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
    click.echo(f"Serving on http://{host}:{port}/ (Ctrl-C stops the app and the database)")
    proc = subprocess.Popen(cmd, cwd=BASE_DIR)

    def forward(signum, _frame):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        code = proc.wait()
    finally:
        if not app.config.get("DATABASE_URL"):
            embedded_server(app.config).stop()
            click.echo("Embedded PostgreSQL stopped.")
    sys.exit(0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code)


def _role(name: str) -> Role:
    role = db.session.scalar(select(Role).where(Role.role_name == name))
    if role is None:
        names = ", ".join(db.session.scalars(select(Role.role_name).order_by(Role.role_name)))
        raise click.BadParameter(f"no role {name!r}; roles: {names}", param_hint="--role")
    return role


def _password(password: str | None, username: str = "") -> tuple[str, bool]:
    """The given password, or a prompt on a terminal, or a generated one (then shown once)."""
    from app.security.passwords import password_problems

    generated = not password and not sys.stdin.isatty()
    if generated:
        return generate_password(), True
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problems = password_problems(password, username)
    if problems:
        raise click.BadParameter(" ".join(problems), param_hint="--password")
    return password, False


@crm.command("create-admin")
@click.option("--username", default="admin", show_default=True)
@click.option("--email", default=None)
@click.option("--password", default=None, help="Prompted (or generated) when not given.")
def create_admin(username: str, email: str | None, password: str | None) -> None:
    """Create an admin account, or reset its password and re-enable it."""
    role = _role(current_app.config["AUTH_ROLE_ADMIN"])
    password, generated = _password(password, username)
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, email=email or f"{username}@example.com",
                    first_name=username, last_name="", role=role)
        db.session.add(user)
        verb = "created"
    else:
        user.role, user.active = role, True
        verb = "reset"
    if user.user_id is None:
        set_password(user, password)
    else:  # also ends its sessions and API tokens and lifts a lockout
        change_password(user, password)
    db.session.commit()
    click.echo(f"Admin {username!r} {verb}." + (f" Password: {password}" if generated else ""))


@crm.command("create-user")
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.option("--role", "role_name", required=True)
@click.option("--password", default=None, help="Prompted (or generated) when not given.")
@click.option("--first-name", default="")
@click.option("--last-name", default="")
def create_user(username: str, email: str, role_name: str, password: str | None,
                first_name: str, last_name: str) -> None:
    """Create a user with one of the roles."""
    role = _role(role_name)
    if db.session.scalar(select(User).where((User.username == username) | (User.email == email))):
        raise click.ClickException(f"a user with username {username!r} or email {email!r} exists")
    password, generated = _password(password, username)
    user = User(username=username, email=email, first_name=first_name, last_name=last_name, role=role)
    set_password(user, password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"User {username!r} created with role {role_name!r}."
               + (f" Password: {password}" if generated else ""))


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

import app.security.users_cli  # noqa: E402,F401
import app.encryption.cli  # noqa: E402,F401
import app.backup.cli  # noqa: E402,F401
import app.reports.cli  # noqa: E402,F401
import app.audit.cli  # noqa: E402,F401
import app.seed.cli  # noqa: E402,F401
