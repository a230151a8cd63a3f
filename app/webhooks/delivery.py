"""Sending the outbox: `deliver_due` POSTs what is due, signs it, and schedules retries.

Each delivery is one short transaction that locks its row (FOR UPDATE SKIP LOCKED), so
several runners (app servers, a scheduler job and `crm webhook deliver`) never send the
same row at once. A runner killed mid-send leaves the row pending: it is sent again with
the same X-CRM-Delivery id (at least once; receivers drop repeats by that id).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask, current_app
from sqlalchemy import delete, exists, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.encryption.keyring import DecryptionError
from app.extensions import db
from app.models import (
    Action,
    Permission,
    Resource,
    User,
    WebhookDelivery,
    WebhookSubscription,
    role_permissions,
)
from app.models.webhooks import EVENT_TABLES
from app.webhooks.subscriptions import secret_of
from app.webhooks.urls import RefusedUrl, check_host

log = logging.getLogger(__name__)

# Growing delays after each failed attempt (the first retry within a minute), then every 4 hours,
# until LIFETIME after the event: one last attempt then, and the delivery is marked failed.
DELAYS = tuple(dt.timedelta(seconds=s) for s in (30, 60, 120, 300, 600, 1800, 3600, 7200, 14400))
LIFETIME = dt.timedelta(hours=24)
DEFAULT_KEEP_DAYS = 30.0  # settled deliveries kept (CRM_WEBHOOK_KEEP_DAYS)
PRUNE_BATCH = 10_000  # rows deleted per pruning (the next one continues)
PRUNE_EVERY = 3600.0  # seconds between prunings by the webhooks job (it runs every few seconds)
PRUNED_AT = "crm_webhooks_pruned_at"  # app.extensions: monotonic time of the last pruning
DEFAULT_TIMEOUT = 10.0  # seconds to connect, and again to read the answer (CRM_WEBHOOK_TIMEOUT)
ANSWER_MAX = 500  # characters of the answer's body kept for the screen
USER_AGENT = "CRM-Webhooks/1"


@dataclass
class Outcome:
    status: str  # pending, delivered, failed, skipped
    attempted: bool
    http_status: int | None = None
    answer: str | None = None


def utc_naive(moment: dt.datetime) -> dt.datetime:
    """Timestamps are stored as naive UTC; an aware moment is converted."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def next_attempt(created_at: dt.datetime, attempts: int, now: dt.datetime) -> dt.datetime | None:
    """When to try again after `attempts` failed ones; None when the 24 hours are over."""
    deadline = created_at + LIFETIME
    if now >= deadline:
        return None
    return min(now + DELAYS[min(attempts, len(DELAYS)) - 1], deadline)


def signature(secret: bytes, body: bytes) -> str:
    """The X-CRM-Signature value: sha256=<hex HMAC-SHA256 of the raw body>."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def api_for(table: str) -> Any:
    """The REST API class serving `table` (its schema is the payload's shape, its resource the permission)."""
    for view in current_app.appbuilder.baseviews:
        datamodel = getattr(view, "datamodel", None)
        if getattr(view, "show_model_schema", None) is not None and datamodel is not None \
                and datamodel.obj.__tablename__ == table:
            return view
    raise LookupError(f"no API serves {table}")


def may_read(session: Session, user_id: int, resource: str) -> bool:
    """The user is active and their role may GET the API resource (as the API itself would check)."""
    return bool(session.scalar(select(exists().where(
        User.user_id == user_id, User.active,
        role_permissions.c.role_id == User.role_id,
        role_permissions.c.permission_id == Permission.permission_id,
        Permission.action_id == Action.id, Action.name == "can_get",
        Permission.resource_id == Resource.id, Resource.name == resource))))


def record_as_api(session: Session, api: Any, table: str, snapshot: dict) -> dict:
    """The snapshot as the API's show endpoint returns it (amounts decrypted on load, as any row)."""
    if table not in EVENT_TABLES:
        raise LookupError(table)
    statement = select(api.datamodel.obj).from_statement(text(
        f"SELECT * FROM jsonb_populate_record(NULL::{table}, CAST(:snapshot AS jsonb))"))
    item = session.execute(statement.execution_options(populate_existing=True),
                           {"snapshot": json.dumps(snapshot)}).scalar_one()
    try:
        return api.show_model_schema.dump(item)
    finally:
        session.expunge(item)


def body_of(app: Flask, delivery: WebhookDelivery, data: dict) -> bytes:
    payload = {"event": delivery.event, "delivery": str(delivery.delivery_key),
               "occurred_at": delivery.created_at.isoformat() + "+00:00",
               "table": delivery.table_name, "id": delivery.record_id, "data": data}
    return app.json.dumps(payload).encode()  # the API's own JSON (decimals, dates) for the same values


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    """One POST; never follows a redirect (it could lead anywhere), reads a bounded answer."""
    host = urlsplit(url).hostname or ""
    try:
        check_host(host)
    except RefusedUrl as exc:
        return Outcome("pending", True, None, str(exc))
    with requests.Session() as http:
        http.trust_env = False  # no proxy or .netrc from the environment: the check above must hold
        try:
            with http.post(url, data=body, headers=headers, timeout=(timeout, timeout),
                           allow_redirects=False, stream=True) as response:
                raw = response.raw.read(ANSWER_MAX * 4, decode_content=True) or b""
                answer = raw.decode("utf-8", "replace")[:ANSWER_MAX]
                ok = 200 <= response.status_code < 300
                return Outcome("delivered" if ok else "pending", True, response.status_code, answer)
        except requests.Timeout:
            return Outcome("pending", True, None, f"no answer within {timeout:g} s")
        except requests.RequestException as exc:
            return Outcome("pending", True, None, f"{type(exc).__name__}: {exc}"[:ANSWER_MAX])


def attempt(app: Flask, session: Session, delivery: WebhookDelivery, sub: WebhookSubscription) -> Outcome:
    """Send one delivery (or settle it without sending: owner may not read, 24 hours over)."""
    api = api_for(delivery.table_name)
    if not may_read(session, sub.owner_id, api.class_permission_name):
        return Outcome("skipped", False, None, f"the owner may not read {delivery.table_name}: nothing sent")
    try:
        with session.begin_nested():  # a failed build must not spoil the transaction that settles the row
            data = record_as_api(session, api, delivery.table_name, delivery.snapshot or {})
        secret = secret_of(sub)
    except (DecryptionError, LookupError, SQLAlchemyError, ValueError) as exc:
        log.exception("webhook delivery %s: the payload could not be built", delivery.delivery_key)
        return Outcome("pending", True, None, f"nothing sent, the payload could not be built: {exc}"[:ANSWER_MAX])
    body = body_of(app, delivery, data)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-CRM-Event": delivery.event, "X-CRM-Delivery": str(delivery.delivery_key),
               "X-CRM-Signature": signature(secret, body)}
    timeout = float(app.config.get("WEBHOOK_TIMEOUT") or DEFAULT_TIMEOUT)
    return post(sub.url, body, headers, timeout)


def settle(delivery: WebhookDelivery, outcome: Outcome, now: dt.datetime) -> None:
    """Write the outcome on the row: delivered, skipped, retried later, or failed after 24 hours."""
    if outcome.attempted:
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status, delivery.last_answer = outcome.http_status, outcome.answer
    elif outcome.answer:
        delivery.last_answer = outcome.answer
    status = outcome.status
    if status == "pending":
        later = next_attempt(delivery.created_at, delivery.attempts, now)
        if later is None:
            status = "failed"
        else:
            delivery.next_attempt_at = later
    delivery.status = status
    if status != "pending":
        delivery.snapshot = None  # settled: the copy of the row is no longer needed


def deliver_one(app: Flask, now: dt.datetime | None) -> Outcome | None:
    """Lock, send and settle the most overdue delivery; None when nothing is due."""
    with Session(db.engine) as session, session.begin():
        moment = utc_naive(now) if now else session.scalar(text("SELECT clock_timestamp() AT TIME ZONE 'utc'"))
        row = session.execute(
            select(WebhookDelivery, WebhookSubscription)
            .join(WebhookSubscription, WebhookSubscription.webhook_id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= moment,
                   WebhookSubscription.active)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.delivery_id)
            .limit(1).with_for_update(of=WebhookDelivery, skip_locked=True)).first()
        if row is None:
            return None
        delivery, sub = row
        # late (runners down, the webhook off meanwhile) is still sent once: nothing committed is lost
        outcome = attempt(app, session, delivery, sub)
        settle(delivery, outcome, moment)
        if outcome.status != "delivered":
            log.info("webhook delivery %s (%s to %s): %s %s", delivery.delivery_key, delivery.event, sub.url,
                     delivery.status, outcome.http_status or outcome.answer or "")
        return outcome


def deliver_due(app: Flask, now: dt.datetime | None = None, limit: int = 100, budget: float = 30.0) -> int:
    """Send what is due (at most `limit` rows, none started after `budget` seconds); returns the attempts made.

    `now` (naive UTC or aware) replaces the database's clock, for tests. The budget keeps one
    run short when receivers are slow; the next run continues.
    """
    made = 0
    stop = time.monotonic() + budget
    with app.app_context():
        for _ in range(limit):
            if time.monotonic() > stop:
                break
            outcome = deliver_one(app, now)
            if outcome is None:
                break
            made += outcome.attempted
    return made


def prune_settled(app: Flask, now: dt.datetime | None = None, batch: int = PRUNE_BATCH) -> int:
    """Delete settled deliveries (delivered, failed, skipped) made more than WEBHOOK_KEEP_DAYS ago, at most
    `batch` of them; returns how many went. Pending ones stay, however old: they are still to be sent."""
    keep = dt.timedelta(days=float(app.config.get("WEBHOOK_KEEP_DAYS") or DEFAULT_KEEP_DAYS))
    with app.app_context(), Session(db.engine) as session, session.begin():
        moment = utc_naive(now) if now else session.scalar(text("SELECT now() AT TIME ZONE 'utc'"))
        old = (select(WebhookDelivery.delivery_id)
               .where(WebhookDelivery.status != "pending", WebhookDelivery.created_at < moment - keep)
               .limit(batch))
        return session.execute(delete(WebhookDelivery).where(WebhookDelivery.delivery_id.in_(old))).rowcount


def prune_now(app: Flask) -> bool:
    """Whether the webhooks job should prune on this run: once per PRUNE_EVERY in this process."""
    clock = time.monotonic()
    last = app.extensions.get(PRUNED_AT)
    if last is not None and clock - last < PRUNE_EVERY:
        return False
    app.extensions[PRUNED_AT] = clock
    return True
