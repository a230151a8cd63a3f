"""`crm webhook add|list|remove|deliver`: subscriptions from the command line, and one delivery run."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.ops.bootstrap import ADMIN_USERNAME
from app.webhooks.delivery import deliver_due
from app.webhooks.subscriptions import (
    add_subscription,
    find,
    remove_subscription,
    set_active,
    subscriptions,
)
from app.webhooks.urls import RefusedUrl

webhook_group = AppGroup("webhook", help="Webhooks: signed POSTs of record changes to other systems.")


@webhook_group.command("add")
@click.argument("url")
@click.option("--events", required=True,
              help="Comma-separated events, e.g. customers.created,customers.updated,leads.deleted.")
@click.option("--secret", required=True, help="The shared secret the receiver checks signatures with.")
@click.option("--user", "username", default=ADMIN_USERNAME, show_default=True,
              help="The owner: payloads are the records as the API returns them to this user.")
def add_command(url: str, events: str, secret: str, username: str) -> None:
    """Subscribe URL to events; each is POSTed as JSON, signed with the secret (X-CRM-Signature)."""
    owner = db.session.scalar(select(User).where(User.username == username))
    if owner is None:
        raise click.ClickException(f"there is no user {username!r}")
    try:
        sub = add_subscription(url, [events], secret, owner)
    except RefusedUrl as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"webhook {sub.webhook_id} added: {sub.url} ({', '.join(sub.events)}), owner {owner.username}")


@webhook_group.command("list")
def list_command() -> None:
    """Every subscription: id, state, owner, pending and failed deliveries, URL and events."""
    rows = subscriptions()
    if not rows:
        click.echo("no webhooks")
    for sub, owner, pending, failed in rows:
        state = "active" if sub.active else "inactive"
        click.echo(f"{sub.webhook_id}\t{state}\t{owner}\tpending {pending}\tfailed {failed}\t{sub.url}\t"
                   f"{','.join(sub.events)}")


def _found(ref: str):
    sub = find(ref)
    if sub is None:
        raise click.ClickException(f"no webhook {ref!r} (give its id, or its URL when only one has it)")
    return sub


@webhook_group.command("remove")
@click.argument("ref")
def remove_command(ref: str) -> None:
    """Delete a webhook (by id or URL) and its deliveries."""
    sub = _found(ref)
    webhook_id, url = sub.webhook_id, sub.url
    remove_subscription(sub)
    click.echo(f"webhook {webhook_id} removed: {url}")


@webhook_group.command("deactivate")
@click.argument("ref")
def deactivate_command(ref: str) -> None:
    """Stop sending to a webhook (its events are no longer recorded) until it is activated."""
    set_active(_found(ref), False)
    click.echo("deactivated")


@webhook_group.command("activate")
@click.argument("ref")
def activate_command(ref: str) -> None:
    """Send to a deactivated webhook again."""
    set_active(_found(ref), True)
    click.echo("activated")


@webhook_group.command("deliver")
@click.option("--limit", type=click.IntRange(1, 100000), default=1000, show_default=True)
def deliver_command(limit: int) -> None:
    """Send the deliveries that are due, once (the scheduler does it every few seconds)."""
    made = deliver_due(current_app._get_current_object(), limit=limit, budget=float("inf"))
    click.echo(f"{made} delivery attempt(s)")
