"""Webhook subscriptions and their outbox: one delivery row per event and subscription."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import UTC_NOW, Model

# The tables whose changes are events (`<table>.created`, `.updated`, `.deleted`).
EVENT_TABLES = ("customers", "contacts", "leads", "opportunities", "activities", "service_tickets")
EVENT_KINDS = ("created", "updated", "deleted")
EVENTS = tuple(f"{table}.{kind}" for table in EVENT_TABLES for kind in EVENT_KINDS)
STATUSES = ("pending", "delivered", "failed", "skipped")


class WebhookSubscription(Model):
    """A URL that gets the chosen events, signed with its secret, as its owner may read them."""

    __tablename__ = "webhook_subscriptions"

    webhook_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    # key-ring envelope (associated data "webhook_subscriptions:secret:<id>"): needed back to sign
    secret: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    owner_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.user_id", ondelete="CASCADE"),
                                          nullable=False, index=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)


class WebhookDelivery(Model):
    """The outbox: written by the tables' triggers in the changing transaction, sent by `deliver_due`.

    `snapshot` is the row as written (to_jsonb), so a deleted row's payload survives it;
    it is cleared once the delivery is settled. Not audited (it would copy every row into the log).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        Index("ix_webhook_deliveries_due", "next_attempt_at", "delivery_id",
              postgresql_where=text("status = 'pending'")),
        Index("ix_webhook_deliveries_webhook_id", "webhook_id", "delivery_id"),
    )

    delivery_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delivery_key: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, unique=True,
                                                    server_default=text("gen_random_uuid()"))
    webhook_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("webhook_subscriptions.webhook_id", ondelete="CASCADE"), nullable=False)
    event: Mapped[str] = mapped_column(String(80), nullable=False)
    table_name: Mapped[str] = mapped_column(String(63), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    status: Mapped[str] = mapped_column(String(10), nullable=False, server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)  # HTTP status; NULL: no answer
    last_answer: Mapped[str | None] = mapped_column(Text)  # truncated body, or why there was none
