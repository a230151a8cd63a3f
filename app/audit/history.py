"""Reading the audit log: keyset pages for /logs/, a record's own entries for its History panel."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from flask import Flask
from markupsafe import Markup, escape
from sqlalchemy import select, tuple_

from app.crud.datamodel import CrmInterface
from app.extensions import db
from app.models import Log

HISTORY_LIMIT = 50
CURSOR_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?)~(\d{1,10})")


@dataclass(frozen=True)
class Cursor:
    """A position in the log: (created_at, log_id), the list's sort key."""

    created_at: dt.datetime
    log_id: int

    def __str__(self) -> str:
        return f"{self.created_at.isoformat()}~{self.log_id}"

    @classmethod
    def parse(cls, text: str | None) -> "Cursor | None":
        """The cursor in `text`; None when empty; ValueError when malformed."""
        if not text:
            return None
        match = CURSOR_RE.fullmatch(text)
        if not match or int(match.group(2)) > 2**31 - 1:
            raise ValueError("malformed position in the log")
        return cls(dt.datetime.fromisoformat(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, entry: Log) -> "Cursor":
        return cls(entry.created_at, entry.log_id)


@dataclass
class KeysetPage:
    rows: list[Log]
    older: Cursor | None  # continue after the last row, or None at the end
    newer: Cursor | None  # go back before the first row, or None at the start


class LogInterface(CrmInterface):
    """The logs datamodel: newest first, paged by keyset, never by OFFSET, never counted."""

    def keyset_page(self, filters: Any, after: Cursor | None, before: Cursor | None,
                    page_size: int) -> KeysetPage:
        key = tuple_(Log.created_at, Log.log_id)
        query = self.apply_filters(self.session.query(Log), filters)
        if before is not None:  # the page just newer than `before`, read upwards then reversed
            rows = (query.filter(key > tuple_(before.created_at, before.log_id))
                    .order_by(Log.created_at.asc(), Log.log_id.asc()).limit(page_size + 1).all())
            more_newer = len(rows) > page_size
            rows = list(reversed(rows[:page_size]))
            return KeysetPage(rows, Cursor.of(rows[-1]) if rows else before,
                              Cursor.of(rows[0]) if rows and more_newer else None)
        if after is not None:
            query = query.filter(key < tuple_(after.created_at, after.log_id))
        rows = query.order_by(Log.created_at.desc(), Log.log_id.desc()).limit(page_size + 1).all()
        more_older = len(rows) > page_size
        rows = rows[:page_size]
        return KeysetPage(rows, Cursor.of(rows[-1]) if rows and more_older else None,
                          Cursor.of(rows[0]) if rows and after is not None else None)


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
