"""`flask --app run crm create-admin|create-user|user ...`: accounts from the command line."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.models import Role, User
from app.ops.bootstrap import generate_password
from app.security import lockout, sessions
from app.security.passwords import change_password, password_problems, set_password


def _role(name: str) -> Role:
    role = db.session.scalar(select(Role).where(Role.role_name == name))
    if role is None:
        names = ", ".join(db.session.scalars(select(Role.role_name).order_by(Role.role_name)))
        raise click.BadParameter(f"no role {name!r}; roles: {names}", param_hint="--role")
    return role


def _password(password: str | None, username: str = "") -> tuple[str, bool]:
    """The given password, or a prompt on a terminal, or a generated one (then shown once)."""
    generated = not password and not sys.stdin.isatty()
    if generated:
        return generate_password(), True
    if not password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problems = password_problems(password, username)
    if problems:
        raise click.BadParameter(" ".join(problems), param_hint="--password")
    return password, False


@click.command("create-admin")
@with_appcontext
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


@click.command("create-user")
@with_appcontext
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


user_group = AppGroup("user", help="Manage one user account.")


def _user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.BadParameter(f"no user {username!r}", param_hint="USERNAME")
    return user


@user_group.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable an account: it cannot sign in, and its open sessions end."""
    user = _user(username)
    user.active = False
    sessions.end_all_of(user.user_id)
    db.session.commit()
    click.echo(f"User {username!r} disabled.")


@user_group.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    """Enable an account again (and lift a lockout)."""
    user = _user(username)
    user.active = True
    lockout.unlock(user.user_id)
    db.session.commit()
    click.echo(f"User {username!r} enabled.")


@user_group.command("set-role")
@click.argument("username")
@click.argument("role_name")
def set_role(username: str, role_name: str) -> None:
    """Give a user another role (effective on their next request)."""
    user = _user(username)
    user.role = _role(role_name)
    db.session.commit()
    click.echo(f"User {username!r} now has role {role_name!r}.")


@user_group.command("reset-password")
@click.argument("username")
@click.option("--password", default=None, help="Prompted (or generated) when not given.")
def reset_password(username: str, password: str | None) -> None:
    """Set a new password; ends the user's sessions and API tokens and lifts a lockout."""
    user = _user(username)
    password, generated = _password(password, username)
    change_password(user, password)
    db.session.commit()
    click.echo(f"Password of {username!r} reset." + (f" Password: {password}" if generated else ""))


@user_group.command("unlock")
@click.argument("username")
def unlock(username: str) -> None:
    """Lift a lockout after too many failed sign-ins."""
    lockout.unlock(_user(username).user_id)
    db.session.commit()
    click.echo(f"User {username!r} unlocked.")
