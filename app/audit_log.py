"""Application events in the `logs` table (logins, exports, backups, ...).

Row changes are captured by database triggers (see the audit migration); this is
for what only the application sees. One function, so every feature logs alike.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from flask import g, has_request_context
from sqlalchemy import insert

from app.extensions import db
from app.models import Log

log = logging.getLogger(__name__)


def current_user_id() -> int | None:
    user = g.get("user") if has_request_context() else None
    return getattr(user, "user_id", None) if user is not None and getattr(user, "is_authenticated", False) else None


def record(action: str, description: str | dict[str, Any] | None = None, *,
           user_id: int | None = None, commit: bool = True) -> None:
    """Append one log entry. `description` may be a dict (stored as JSON text)."""
    if isinstance(description, dict):
        description = json.dumps(description, ensure_ascii=False, default=str, sort_keys=True)
    db.session.execute(insert(Log).values(
        user_id=user_id if user_id is not None else current_user_id(),
        action=action[:255], description=description,
    ))
    if commit:
        db.session.commit()
