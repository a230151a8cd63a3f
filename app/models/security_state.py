"""Login-security and role-sync state kept in PostgreSQL, so it holds across workers and servers."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import UTC_NOW, Model


class UserSession(Model):
    """A signed-in browser session; the cookie holds the token, the table its SHA-256."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)


class LoginRateWindow(Model):
    """Sign-in attempts from one client address in one fixed time window."""

    __tablename__ = "login_rate_windows"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class LoginAddress(Model):
    """Sign-ins of one account from one client address: consecutive failures, that pair's lock, last success."""

    __tablename__ = "login_addresses"

    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    locked_until: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    last_failure_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    last_success_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)


class SyncedResource(Model):
    """A permission resource (screen, API, menu) that the start-up sync has already seen."""

    __tablename__ = "security_synced_resources"

    name: Mapped[str] = mapped_column(String(250), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)


class SyncedPermission(Model):
    """A permission (action on resource) the start-up sync has already seen.

    A new action on an old screen (e.g. can_convert on LeadView) reaches the default
    roles that should have it, once; an admin's later revocation stays.
    """

    __tablename__ = "security_synced_permissions"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)


class DefaultRole(Model):
    """A default role the start-up sync created; it is never re-created or reset."""

    __tablename__ = "default_roles"

    role_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)


class DefaultRoleGrant(Model):
    """A permission the sync granted to a default role (a record; admins' edits win)."""

    __tablename__ = "default_role_grants"

    role_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    permission_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)
