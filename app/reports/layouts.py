"""Saved dashboard layouts: which charts a user sees, in what order, and the filters the dashboard opens with.

The filters are kept as the dashboard's own query string (CONTRACT.md section 5: period, from,
to, owner, team); only those arguments are kept, and the dashboard validates them when it reads
them, as it does for a bookmarked URL.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence, TypeVar
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert

from app.extensions import db
from app.models import DashboardLayout

FILTER_ARGS = ("period", "from", "to", "owner", "team")
QUERY_MAX = 500
T = TypeVar("T")


class BadLayout(ValueError):
    """A layout that cannot be saved; the message says why (translated by the caller)."""


def filter_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The dashboard filter arguments among `pairs`, as a query string (other arguments dropped)."""
    return urlencode([(k, v) for k, v in pairs if k in FILTER_ARGS and v])


def saved(user_id: int) -> DashboardLayout | None:
    return db.session.get(DashboardLayout, user_id)


def chosen(form: Any, known: Sequence[str]) -> list[str]:
    """The charts ticked in the layout form (`show`), ordered by their `position-<type>` fields."""
    shown = [t for t in form.getlist("show") if t in known]
    if len(shown) != len(form.getlist("show")) or len(set(shown)) != len(shown):
        raise BadLayout("unknown chart")
    if not shown:
        raise BadLayout("no chart")

    def position(report_type: str) -> tuple[int, int]:
        raw = form.get(f"position-{report_type}", "")
        if not raw.isdigit() or not 1 <= int(raw) <= len(known):
            raise BadLayout("position")
        return int(raw), known.index(report_type)
    return sorted(shown, key=position)


def save(user_id: int, charts: list[str], query: str) -> None:
    """Keep the user's layout (one per user: a second save replaces the first); the caller commits."""
    query = filter_query(parse_qsl(query))
    if len(query) > QUERY_MAX:
        raise BadLayout("query")
    values = {"user_id": user_id, "charts": charts, "query": query}
    db.session.execute(insert(DashboardLayout).values(**values).on_conflict_do_update(
        index_elements=[DashboardLayout.user_id],
        set_={"charts": charts, "query": query, "updated_at": func.timezone("utc", func.now())}))


def reset(user_id: int) -> None:
    """Back to the default layout; the caller commits."""
    db.session.execute(delete(DashboardLayout).where(DashboardLayout.user_id == user_id))


def arrange(items: list[T], key: str, layout: DashboardLayout | None) -> list[T]:
    """`items` (with attribute `key`) in the layout's order, those it leaves out dropped; all without one."""
    if layout is None:
        return items
    by_key = {getattr(item, key): item for item in items}
    return [by_key[k] for k in layout.charts if k in by_key]
