"""API keys for integrations: a user's credential for the REST API, stored only as a hash."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import UTC_NOW, Model


class ApiKey(Model):
    """One key: it acts as `user_id`; the secret is shown once, only its SHA-256 is kept.

    Times are UTC. A revoked or expired key stays listed (who had access, until when). The
    row is audited like every table; its last use is kept apart (ApiKeyUse), so use does not
    write the audit log.
    """

    __tablename__ = "api_keys"

    api_key_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    # the key's first characters ("crm_AbCd1234"), to recognise it in lists and logs
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    # hex SHA-256 of the whole key: the one indexed lookup of every API request
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)
    created_by: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("users.user_id", ondelete="SET NULL"), index=True
    )
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user = relationship("User", foreign_keys=[user_id], lazy="joined")
    creator = relationship("User", foreign_keys=[created_by], lazy="joined")
    use = relationship("ApiKeyUse", uselist=False, lazy="joined", passive_deletes=True)

    @property
    def last_used_at(self) -> dt.datetime | None:
        return self.use.last_used_at if self.use is not None else None


class ApiKeyUse(Model):
    """When a key was last used (UTC, written at most once a minute): per-request state, not audited."""

    __tablename__ = "api_key_uses"

    api_key_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("api_keys.api_key_id", ondelete="CASCADE"), primary_key=True
    )
    last_used_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)
