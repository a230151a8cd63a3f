"""Reading the audit log: its datamodel for /logs/, a record's own entries for its History panel."""
from __future__ import annotations

import json
from typing import Any

from flask import Flask
from markupsafe import Markup, escape
from sqlalchemy import select

from app.crud.datamodel import CrmInterface
from app.extensions import db
from app.models import Log

HISTORY_LIMIT = 50


class LogInterface(CrmInterface):
    """The logs datamodel. The list reads newest first along (created_at, log_id), checking a search
    filter on each row on the way: the log has no search indexes to look matches up in first."""

    def search_matches(self, filters: Any, carry: str = "") -> None:
        return None


def record_history(table: str, key: Any, limit: int = HISTORY_LIMIT) -> list[Log]:
    """The newest log entries about one record."""
    return list(db.session.scalars(
        select(Log).where(Log.table_name == table, Log.record_key == str(key))
        .order_by(Log.created_at.desc(), Log.log_id.desc()).limit(limit)))


def _value(value: Any) -> str:
    return "∅" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def describe(text: str | None) -> Markup:
    """A log description as people read it: 'name: old → new' per changed field."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return escape(text or "—")
    if not isinstance(data, dict):
        return escape(text)
    lines = []
    for column, change in (data.get("changes") or {}).items():
        if isinstance(change, list) and len(change) == 2:
            lines.append(f"{column}: {_value(change[0])} → {_value(change[1])}")
        else:
            lines.append(f"{column}: {change}")
    for section in ("new", "old"):
        for column, value in (data.get(section) or {}).items():
            lines.append(f"{column}: {_value(value)}")
    rest = {k: v for k, v in data.items() if k not in ("changes", "new", "old", "key")}
    lines += [f"{k}: {_value(v)}" for k, v in rest.items()]
    return Markup("<br>").join(escape(line) for line in lines) or escape("—")


def init_history(app: Flask) -> None:
    app.jinja_env.filters["audit_describe"] = describe
