"""What still depends on a record: the rows that block deleting it, counted and said in words."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, inspect, select

from app.extensions import db

COUNT_CAP = 10_000  # "10,000+": counting further only delays the refusal


def dependent_counts(item: Any) -> list[tuple[str, int]]:
    """(table, rows) for each one-to-many relation whose rows block deleting `item` (at most COUNT_CAP + 1)."""
    found = []
    for rel in inspect(type(item)).relationships:
        if rel.direction.name != "ONETOMANY" or rel.passive_deletes != "all":
            continue
        child = rel.mapper.local_table
        condition = [remote == getattr(item, local.key) for local, remote in rel.local_remote_pairs]
        capped = select(child).where(*condition).limit(COUNT_CAP + 1).subquery()
        count = db.session.scalar(select(func.count()).select_from(capped))
        if count:
            found.append((child.name, count))
    return found


# one phrase per table, so each language can say the number with its own word ("3 contacts", "3 个联系人")
PHRASES = {
    "contacts": lambda n, s: ngettext("%(n)s contact", "%(n)s contacts", n, n=s),
    "leads": lambda n, s: ngettext("%(n)s lead", "%(n)s leads", n, n=s),
    "opportunities": lambda n, s: ngettext("%(n)s opportunity", "%(n)s opportunities", n, n=s),
    "activities": lambda n, s: ngettext("%(n)s activity", "%(n)s activities", n, n=s),
    "service_tickets": lambda n, s: ngettext("%(n)s service ticket", "%(n)s service tickets", n, n=s),
}


def phrase(table: str, count: int) -> str:
    shown = f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"
    if table in PHRASES:
        return PHRASES[table](count, shown)
    return _("%(num)s rows of %(table)s", num=shown, table=table)


def refusal(item: Any, counts: list[tuple[str, int]]) -> str:
    """"3 contacts and 2 opportunities still belong to Acme Ltd; nothing was deleted." """
    parts = [phrase(table, count) for table, count in counts]
    listed = parts[0] if len(parts) == 1 else _("%(items)s and %(last)s", items=", ".join(parts[:-1]),
                                                 last=parts[-1])
    rows = sum(count for _table, count in counts)
    return ngettext("%(what)s still belongs to %(item)s; nothing was deleted. Delete or move it first.",
                    "%(what)s still belong to %(item)s; nothing was deleted. Delete or move them first.",
                    rows, what=listed, item=str(item))
