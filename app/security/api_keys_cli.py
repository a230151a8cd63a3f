"""`flask --app run crm apikey create|revoke|list`: API keys for integrations."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.security import api_keys

apikey_group = AppGroup("apikey", help="API keys for integrations (Authorization: Bearer crm_...).")


def _when(value) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "-"


@apikey_group.command("create")
@click.option("--user", "username", required=True, help="The user the key acts as (with that user's role).")
@click.option("--name", required=True, help="A unique name, e.g. the integration that uses the key.")
@click.option("--expires-days", default=None, help="Refused after this many days (default: never).")
def create(username: str, name: str, expires_days: str | None) -> None:
    """Create a key and print it once: only its hash is kept."""
    try:
        key, secret = api_keys.create(username, name, expires_days, created_by=None)
    except api_keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    expiry = f"expires {_when(key.expires_at)}" if key.expires_at else "does not expire"
    click.echo(f"API key {key.name!r} created for user {username!r} ({expiry}).")
    click.echo("Copy it now: it is shown only this once. Send it as 'Authorization: Bearer <key>'.", err=True)
    click.echo(secret)


@apikey_group.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Refuse a key from now on, on every app server."""
    try:
        key = api_keys.named(name)
    except api_keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if api_keys.revoke(key):
        click.echo(f"API key {name!r} revoked.")
    else:
        click.echo(f"API key {name!r} was already revoked ({_when(key.revoked_at)}).")


@apikey_group.command("list")
def list_keys() -> None:
    """Every key: name, user, prefix, created, expires, last use, state."""
    keys = api_keys.listing()
    if not keys:
        click.echo("No API keys.")
        return
    rows = [("NAME", "USER", "PREFIX", "CREATED", "EXPIRES", "LAST USED", "STATE")] + [
        (k.name, k.user.username, k.prefix, _when(k.created_at), _when(k.expires_at), _when(k.last_used_at),
         api_keys.status(k)) for k in keys]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
