"""Application events in the `logs` table (logins, exports, backups, ...).

Row changes are captured by database triggers (see the audit migration); this is
for what only the application sees. One function, so every feature logs alike.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import insert

from app.extensions import db
from app.models import Log

log = logging.getLogger(__name__)


def current_user_id() -> int | None:
    user = g.get("user") if has_request_context() else None
    return getattr(user, "user_id", None) if user is not None and getattr(user, "is_authenticated", False) else None


def client_address() -> str | None:
    return request.remote_addr if has_request_context() else None


def record(action: str, description: str | dict[str, Any] | None = None, *,
           user_id: int | None = None, commit: bool = True,
           table: str | None = None, record_key: Any = None) -> None:
    """Append one log entry. `description` may be a dict (stored as JSON text).

    `table`/`record_key` tie the entry to a record, so it shows in that record's History.
    """
    if isinstance(description, dict):
        description = json.dumps(description, ensure_ascii=False, default=str, sort_keys=True)
    db.session.execute(insert(Log).values(
        user_id=user_id if user_id is not None else current_user_id(),
        action=action[:255], description=description, table_name=table,
        record_key=None if record_key is None else str(record_key)[:255],
    ))
    if commit:
        db.session.commit()
