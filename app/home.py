"""What the home page shows: each screen the user may open, with an estimated row count."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import text

from app.extensions import db


@dataclass
class Tile:
    title: str
    url: str
    icon: str
    category: str
    rows: int | None


EXACT_BELOW = 10_000


def estimated_rows(tables: list[str]) -> dict[str, int]:
    """Planner estimates (pg_class.reltuples): instant at any size, unlike COUNT(*).

    Small or never-analysed tables (estimate -1) are counted exactly, capped.
    """
    result = db.session.execute(
        text("SELECT relname, reltuples::bigint FROM pg_class "
             "WHERE relkind IN ('r', 'p') AND relname = ANY(:t) AND relnamespace = 'public'::regnamespace"),
        {"t": tables})
    counts = dict(result.all())
    for table, estimate in counts.items():
        if estimate < EXACT_BELOW:  # table names come from our models, not from input
            counts[table] = db.session.scalar(
                text(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT {EXACT_BELOW}) AS capped"))
    return counts


def about(n: int | None) -> str:
    if n is None:
        return ""
    if n < EXACT_BELOW:
        return f"{n:,}"
    for limit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= limit:
            return f"about {n / limit:.1f}{suffix}".replace(".0", "")
    return f"about {n}"


def tiles(menu: list[tuple[type, str, str, str]]) -> dict[str, list[Tile]]:
    """Tiles grouped by menu category, in menu order."""
    sm = current_app.appbuilder.sm
    allowed = [(view, name, icon, category) for view, name, icon, category in menu
               if sm.has_access("can_list", view.__name__)]
    counts = estimated_rows([v.model.__tablename__ for v, *_ in allowed])
    groups: dict[str, list[Tile]] = {}
    for view, name, icon, category in allowed:
        groups.setdefault(category, []).append(
            Tile(name, f"{view.route_base}/list/", icon, category, counts.get(view.model.__tablename__)))
    return groups
