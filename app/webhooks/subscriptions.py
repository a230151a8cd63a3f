"""Adding, listing, switching off and removing webhook subscriptions; their secrets in the key ring."""
from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from app.audit.record import record
from app.encryption.columns import key_ring, next_ids
from app.extensions import db
from app.models import User, WebhookDelivery, WebhookSubscription
from app.models.webhooks import EVENTS
from app.webhooks.urls import RefusedUrl, check_url

TABLE = "webhook_subscriptions"
SECRET_MAX = 200


def parse_events(events: Iterable[str]) -> list[str]:
    """Known event names, in the catalogue's order; RefusedUrl naming any unknown one."""
    wanted = {e.strip() for item in events for e in item.split(",") if e.strip()}
    unknown = sorted(wanted - set(EVENTS))
    if unknown:
        raise RefusedUrl(_("Unknown event(s): %(names)s. Events are <table>.created, .updated or .deleted "
                           "for %(tables)s.", names=", ".join(unknown),
                           tables="customers, contacts, leads, opportunities, activities, service_tickets"))
    if not wanted:
        raise RefusedUrl(_("Choose at least one event."))
    return [e for e in EVENTS if e in wanted]


def check_secret(secret: str) -> str:
    if not secret or secret != secret.strip() or len(secret) > SECRET_MAX or not secret.isprintable():
        raise RefusedUrl(_("The secret must be 1 to %(max)s printable characters, without leading or trailing "
                           "spaces.", max=SECRET_MAX))
    return secret


def add_subscription(url: str, events: Iterable[str], secret: str, owner: User) -> WebhookSubscription:
    """Check, store (secret sealed with the row's id) and log a new subscription; commits."""
    url, wanted, secret = check_url(url), parse_events(events), check_secret(secret)
    webhook_id = next_ids(db.session.connection(), TABLE, "webhook_id", 1)[0]
    sealed = key_ring().encrypt_bytes(secret.encode(), TABLE, "secret", webhook_id)
    sub = WebhookSubscription(webhook_id=webhook_id, url=url, events=wanted, secret=sealed,
                              owner_id=owner.user_id, active=True)
    db.session.add(sub)
    db.session.flush()
    record("webhook added", {"webhook_id": webhook_id, "url": url, "events": wanted, "owner": owner.username},
           table=TABLE, record_key=webhook_id, commit=False)
    db.session.commit()
    return sub


def secret_of(sub: WebhookSubscription) -> bytes:
    return key_ring().decrypt_bytes(sub.secret, TABLE, "secret", sub.webhook_id)


def find(ref: str | int) -> WebhookSubscription | None:
    """A subscription by id, or by its exact URL when only one has it."""
    if isinstance(ref, int) or str(ref).isdigit():
        return db.session.get(WebhookSubscription, int(ref)) if int(ref) < 2**31 else None
    found = db.session.scalars(select(WebhookSubscription).where(WebhookSubscription.url == ref).limit(2)).all()
    return found[0] if len(found) == 1 else None


def set_active(sub: WebhookSubscription, active: bool) -> None:
    """Switch events on or off (pending deliveries are still sent); logged; commits."""
    sub.active = active
    record("webhook activated" if active else "webhook deactivated", {"webhook_id": sub.webhook_id, "url": sub.url},
           table=TABLE, record_key=sub.webhook_id, commit=False)
    db.session.commit()


def remove_subscription(sub: WebhookSubscription) -> None:
    """Delete it with its deliveries (nothing more is sent); logged; commits."""
    webhook_id, url = sub.webhook_id, sub.url
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
    db.session.delete(sub)
    record("webhook removed", {"webhook_id": webhook_id, "url": url}, table=TABLE, record_key=webhook_id,
           commit=False)
    db.session.commit()


def subscriptions() -> list[tuple[WebhookSubscription, str, int, int]]:
    """(subscription, owner's username, pending, failed) for every subscription, newest first."""
    pending = func.count().filter(WebhookDelivery.status == "pending")
    failed = func.count().filter(WebhookDelivery.status == "failed")
    counts = (select(WebhookDelivery.webhook_id, pending.label("pending"), failed.label("failed"))
              .group_by(WebhookDelivery.webhook_id).subquery())
    rows = db.session.execute(
        select(WebhookSubscription, User.username, func.coalesce(counts.c.pending, 0),
               func.coalesce(counts.c.failed, 0))
        .join(User, User.user_id == WebhookSubscription.owner_id)
        .outerjoin(counts, counts.c.webhook_id == WebhookSubscription.webhook_id)
        .order_by(WebhookSubscription.webhook_id.desc())).all()
    return [tuple(r) for r in rows]


def recent_deliveries(limit: int = 50) -> list[WebhookDelivery]:
    """The newest deliveries, settled or not, for the screen."""
    return list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.delivery_id.desc())
                                   .limit(limit)))
