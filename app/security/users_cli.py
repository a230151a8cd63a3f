"""`flask --app run crm user ...`: disable, enable, change role, reset password, unlock."""
from __future__ import annotations

import click
from sqlalchemy import select

from app.security import lockout

from app.security import sessions
from app.ops.cli import _password, _role, crm
from app.extensions import db
from app.models import User
from app.security.passwords import change_password


@crm.group("user")
def user_group() -> None:
    """Manage one user account."""


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
