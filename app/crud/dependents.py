"""What still depends on a record: the rows that block deleting it, counted and said in words."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
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


# one phrase per table and number, so each language says the count with its own word ("3 个联系人")
PHRASES = {
    "contacts": (_l("%(n)s contact"), _l("%(n)s contacts")),
    "leads": (_l("%(n)s lead"), _l("%(n)s leads")),
    "opportunities": (_l("%(n)s opportunity"), _l("%(n)s opportunities")),
    "activities": (_l("%(n)s activity"), _l("%(n)s activities")),
    "service_tickets": (_l("%(n)s service ticket"), _l("%(n)s service tickets")),
}


def phrase(table: str, count: int) -> str:
    shown = f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"
    if table in PHRASES:
        return str(PHRASES[table][count != 1]) % {"n": shown}
    return _("%(num)s rows of %(table)s", num=shown, table=table)


def refusal(item: Any, counts: list[tuple[str, int]]) -> str:
    """"3 contacts and 2 opportunities still belong to Acme Ltd; nothing was deleted." """
    parts = [phrase(table, count) for table, count in counts]
    listed = parts[0]
    for part in parts[1:-1]:
        listed = _("%(first)s, %(next)s", first=listed, next=part)
    if len(parts) > 1:
        listed = _("%(items)s and %(last)s", items=listed, last=parts[-1])
    if len(counts) == 1 and counts[0][1] == 1:
        return _("%(what)s still belongs to %(item)s; nothing was deleted. Delete or move it first.",
                 what=listed, item=str(item))
    return _("%(what)s still belong to %(item)s; nothing was deleted. Delete or move them first.",
             what=listed, item=str(item))
