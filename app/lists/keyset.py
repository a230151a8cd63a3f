"""Keyset ("seek") paging for the list screens: a page costs the same however deep it is.

A list is ordered by one column and the primary key as tie-breaker, in one
direction, as FAB orders it (PostgreSQL puts NULLs last ascending, first
descending). A cursor is the (column value, key) of a row; the next page is
the rows after it in that order, read from an index on (column, key) instead
of skipping OFFSET rows. A nullable column is read in two segments (values,
then NULLs) so each segment stays a plain index range scan. The same Cursor
marks a position in the log and in a customer's timeline.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import and_, true, tuple_
from sqlalchemy.orm import Query

END = "end"  # `before_<View>=end`: the last page
KEY_MAX = 2**31 - 1  # SERIAL
READABLE = re.compile(r"(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?)~(?:(?P<kind>[a-z]+)~)?(?P<key>\d{1,10})")


@dataclass(frozen=True)
class Cursor:
    """A row's position in one order of a list: the sort value, then the key that breaks ties.

    The one position of every keyset-paged read, written into URLs in one of two ways:

    - `encode()` / `decode()`: an opaque token that names the order it was made for, for lists
      sortable by any column (`after_CustomerView=...`);
    - `str()` / `parse()`: readable, for feeds always read newest first by time: the log
      (`after=2026-01-31T09:00:00~42`) and the customer timeline, whose entries of several kinds
      tie-break on the kind before the key (`timeline_before=2026-01-31T09:00:00~activity~42`).
    """

    order: str  # "<column> <asc|desc>": a cursor made for another order is not used
    value: Any
    key: int
    kind: str = ""  # a merged feed's source (the timeline's "activity", "ticket", "change")

    def encode(self) -> str:
        value = self.value
        if isinstance(value, (dt.date, dt.datetime, Decimal)):
            value = value.isoformat() if not isinstance(value, Decimal) else str(value)
        raw = json.dumps([self.order, value, self.key], ensure_ascii=False, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, python_type: type, order: str) -> "Cursor | None":
        """The cursor in `text` for `order` on a column of `python_type`; ValueError when malformed.

        None when it was made for another order (a sort link keeps the list's position
        arguments): its value may be of another column's type.
        """
        try:
            made_for, value, key = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (ValueError, TypeError) as exc:
            raise ValueError("malformed list position") from exc
        if not isinstance(key, int) or isinstance(key, bool) or not 0 <= key <= KEY_MAX \
                or not isinstance(made_for, str):
            raise ValueError("malformed list position")
        if made_for != order:
            return None
        if value is None:
            return cls(order, None, key)
        try:
            if python_type is dt.datetime:
                value = dt.datetime.fromisoformat(value)
            elif python_type is dt.date:
                value = dt.date.fromisoformat(value)
            elif python_type is Decimal:
                value = Decimal(value)
            elif python_type is int and not (isinstance(value, int) and not isinstance(value, bool)):
                raise ValueError
            elif python_type is str and not isinstance(value, str):
                raise ValueError
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise ValueError("malformed list position") from exc
        return cls(order, value, key)

    def __str__(self) -> str:
        """The readable form of a position in a feed ordered by time (`value` is a datetime)."""
        kind = f"{self.kind}~" if self.kind else ""
        return f"{self.value.isoformat()}~{kind}{self.key}"

    @classmethod
    def parse(cls, text: str | None, order: str, where: str, kinds: tuple[str, ...] = ()) -> "Cursor | None":
        """The readable position in `text`; None when empty; ValueError naming `where` when malformed.

        `kinds`: the feed's kinds of entries, one of which the position names; none: it names none.
        """
        if not text:
            return None
        match = READABLE.fullmatch(text)
        valid = match is not None and int(match["key"]) <= KEY_MAX and (
            match["kind"] in kinds if kinds else match["kind"] is None)
        if not valid:
            raise ValueError(f"malformed position in {where}")
        return cls(order, dt.datetime.fromisoformat(match["at"]), int(match["key"]), match["kind"] or "")


@dataclass
class KeysetPage:
    rows: list
    next: Cursor | None  # position of the last row when more rows follow
    previous: Cursor | None  # position of the first row when rows come before it


def _segments(column, pk, ascending: bool, cursor: Cursor | None, nullable: bool
              ) -> list[tuple[list, list]]:
    """(conditions, ORDER BY) of the rows after `cursor` reading in `ascending` order.

    Order "up" is column ASC NULLS LAST, pk ASC; "down" is its exact reverse.
    """
    up = [column.asc(), pk.asc()]
    down = [column.desc(), pk.desc()]
    values, nulls = [column.isnot(None)], [column.is_(None)]
    if ascending:
        if cursor is None:
            return [(values, up), (nulls, [pk.asc()])] if nullable else [([], up)]
        if cursor.value is None:
            return [([column.is_(None), pk > cursor.key], [pk.asc()])]
        after = [tuple_(column, pk) > tuple_(cursor.value, cursor.key)]
        return [(after, up), (nulls, [pk.asc()])] if nullable else [(after, up)]
    if cursor is None:
        return [(nulls, [pk.desc()]), (values, down)] if nullable else [([], down)]
    if cursor.value is None:
        return [([column.is_(None), pk < cursor.key], [pk.desc()]), (values, down)]
    return [([tuple_(column, pk) < tuple_(cursor.value, cursor.key)], down)]


def keyset_page(query: Query, column, pk, descending: bool, page_size: int, *,
                after: Cursor | None = None, before: Cursor | None = None, last: bool = False,
                nullable: bool = True, options: Callable[[Query], Query] = lambda q: q) -> KeysetPage:
    """One page of `query` (already filtered) ordered by (column, pk).

    `after`: the page following that row; `before`: the page preceding it;
    `last`: the last page; none of them: the first page.
    """
    backwards = before is not None or last
    ascending = descending == backwards  # read against the list's order when going back
    cursor = before if backwards else after
    rows: list = []
    for conditions, order in _segments(column, pk, ascending, cursor, nullable):
        wanted = page_size + 1 - len(rows)
        rows += options(query.filter(and_(true(), *conditions))).order_by(*order).limit(wanted).all()
        if len(rows) > page_size:
            break
    more = len(rows) > page_size
    rows = rows[:page_size]
    if backwards:
        rows.reverse()

    order = f"{column.key} {'desc' if descending else 'asc'}"

    def position(row) -> Cursor:
        return Cursor(order, getattr(row, column.key), getattr(row, pk.key))

    if not rows:
        return KeysetPage([], None, None)
    if backwards:
        return KeysetPage(rows, position(rows[-1]) if not last else None,
                          position(rows[0]) if more else None)
    return KeysetPage(rows, position(rows[-1]) if more else None,
                      position(rows[0]) if after is not None else None)
