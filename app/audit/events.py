"""Application events the database cannot see: logins, failed logins, logouts, permission changes."""
from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask_login import user_logged_out
from sqlalchemy import event, inspect, insert
from sqlalchemy.orm import Session

from app.audit.record import client_address, current_user_id, record
from app.models import Log, Role, User


def login_succeeded(user: User) -> None:
    record("login", {"username": user.username, "ip": client_address()}, user_id=user.user_id,
           table="users", record_key=user.user_id)


def login_failed(username: str | None, user: User | None, reason: str) -> None:
    """A refused sign-in; `user` is the account the name matched, if any (never the password)."""
    record("login failed", {"username": (username or "")[:255], "reason": reason, "ip": client_address()},
           table="users" if user else None, record_key=user.user_id if user else None)


def _logged_out(_app: Flask, user: Any = None) -> None:
    user_id = getattr(user, "user_id", None)
    record("logout", {"username": getattr(user, "username", None), "ip": client_address()},
           user_id=user_id, table="users" if user_id else None, record_key=user_id)


def _names(items) -> list[str]:
    return sorted(str(item) for item in items)


def _permission_changes(session: Session) -> list[dict[str, Any]]:
    """Role grants and revocations, and users moved to another role, in this flush."""
    rows = []
    for obj in list(session.new) + list(session.dirty):
        state = inspect(obj)
        if isinstance(obj, Role):
            history = state.attrs.permissions.history
            if history.added or history.deleted:
                rows.append({"action": "permissions change", "table_name": "roles", "record_key": str(obj.role_id),
                             "description": {"role": obj.role_name, "granted": _names(history.added),
                                             "revoked": _names(history.deleted)}})
        elif isinstance(obj, User) and obj in session.dirty:
            history = state.attrs.role.history
            if history.added and history.deleted:
                rows.append({"action": "role change", "table_name": "users", "record_key": str(obj.user_id),
                             "description": {"user": obj.username, "from": _names(history.deleted),
                                             "to": _names(history.added)}})
    return rows


def _after_flush(session: Session, _context) -> None:
    changes = _permission_changes(session)
    if changes:
        user_id = current_user_id()
        session.connection().execute(insert(Log), [
            {**c, "user_id": user_id, "description": json.dumps(c["description"], ensure_ascii=False)}
            for c in changes])


def init_audit_events(app: Flask) -> None:
    """Log every logout of this app's users."""
    user_logged_out.connect(_logged_out, app)


def install() -> None:
    """Log permission changes with the flush that makes them (once; create_app calls it)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
