"""What the home page shows: each screen the user may open, with an estimated row count."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import text

from app.lists.counts import COUNT_CAP, about, planner_estimates  # noqa: F401  (views use about)
from app.extensions import db


@dataclass
class Tile:
    title: str
    url: str
    icon: str
    category: str
    rows: int | None


def estimated_rows(tables: list[str]) -> dict[str, int]:
    """Planner estimates; small or never-analysed tables are counted exactly (capped)."""
    counts = planner_estimates(tables)
    for table, estimate in counts.items():
        if estimate < COUNT_CAP:  # table names come from our models, not from input
            counts[table] = db.session.scalar(
                text(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT {COUNT_CAP}) AS capped"))
    return counts


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
