"""The capped set of a searched list's matches: up to `cap` + 1 keys, read in one statement.

A list filtered by a search (the `?q=` box, a "contains" or "matches words" filter) is paged,
sorted and counted within these keys, never by the whole filtered table: a common word matches
hundreds of thousands of rows, and the page query walked or sorted them all (a quarter of a
second on a million customers, docs/performance.md). As the CRM-wide search does
(app/search/service.py, `candidates_statement`), the matches are looked for:

1. among the newest PROBE_ROWS rows, read by key and checked row by row: a frequent term is
   done there, with the newest matches;
2. when those held WIDEN_AT matches or more (a term in 5 % of the rows or more), among the next
   rows too, as many as the probe's share of matches says hold the rest of the cap (at most
   WIDER_MAX): read in key order they hold it sooner than an index, whose bitmap for such a
   term holds a large share of the table;
3. through the search indexes (sequential scans off), in no particular order, without the rows
   the windows found.

The parts are a UNION ALL under the cap's LIMIT: PostgreSQL runs a part only while the LIMIT
still wants rows. The whole condition (every filter of the list, not only the search) is
checked in each part, so filters narrow the matches before the cap.
"""
from __future__ import annotations

from sqlalchemy import Integer, Select, case, cast, func, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.schema import Column
from sqlalchemy.sql.util import ClauseAdapter
from sqlalchemy.sql.visitors import iterate

from app.lists.planner import INDEX_LOOKUP_SETTINGS, set_for_transaction
from app.search.conditions import without_index_only

PROBE_ROWS = 2_000  # newest rows checked first: a term in half of the rows fills the cap here
WIDEN_AT = 100  # matches in the probe (5 %) from which the next rows are read too, as many as the
WIDER_MAX = 25_000  # probe's share says will fill the cap (with a margin), at most this many
MARGIN = 1.25


def _window(table, pk, columns: list, rows, name: str, below: ColumnElement | None = None):
    """`columns` of the newest `rows` rows (with a key below `below`, if given), read backwards by the key."""
    window = select(pk, *columns)
    if below is not None:
        window = window.where(pk < below)
    return window.order_by(pk.desc()).limit(rows).subquery(name)


def matches_statement(table, where: ColumnElement | None, cap: int, widen: bool = True) -> Select:
    """Keys of up to `cap` + 1 rows of `table` matching `where`: the windows' newest first, then the index's.

    `widen`: read the wider window for a frequent term. Not worth it when the index finds each
    term in one list of rows (one or two CJK characters: the bigram or character's own entry):
    such a lookup costs a few milliseconds for a term in a tenth of a million rows, where reading
    rows one by one costs microseconds each.
    """
    pk = next(iter(table.primary_key.columns))
    limit = cap + 1
    # the windows carry only the columns the condition reads (the rows' other values are not copied)
    names = {e.name for e in iterate(where) if isinstance(e, Column) and e.table is table} if where is not None else ()
    columns = [table.c[name] for name in sorted(names) if name != pk.name]
    newest = _window(table, pk, columns, PROBE_ROWS, "newest")

    def matching(window) -> Select:
        # row by row: the exact checks only, not the expressions computed for the indexes
        condition = ClauseAdapter(window).traverse(without_index_only(where)) if where is not None else None
        found = select(window.c[pk.name].label("pk"))
        found = found.where(condition) if condition is not None else found
        return found.order_by(window.c[pk.name].desc()).limit(limit)

    probe = matching(newest).cte("probe")
    # the wider window starts below the probe's last row, and is as long as the probe's share of
    # matches says the rest of the cap needs (none below WIDEN_AT): computed once, before any row
    found = func.count()
    rows = case((found >= (WIDEN_AT if widen else limit + 1), func.least(
        WIDER_MAX, cast((limit - found) * PROBE_ROWS * MARGIN / func.greatest(found, 1), Integer))), else_=0)
    wider_rows = select(rows).select_from(probe).scalar_subquery()
    below = select(func.min(newest.c[pk.name])).scalar_subquery()
    widened = matching(_window(table, pk, columns, wider_rows, "wider", below=below)).cte("widened")
    lookup = select(pk.label("pk")).where(pk.not_in(select(probe.c.pk)), pk.not_in(select(widened.c.pk)))
    if where is not None:
        lookup = lookup.where(where)
    found = union_all(select(probe.c.pk), select(widened.c.pk), lookup.limit(limit)).subquery("found")
    return select(found.c.pk).limit(limit)


def capped_matches(session: Session, table, where: ColumnElement | None, cap: int, widen: bool = True) -> list[int]:
    """Run matches_statement with the index-lookup settings (no sequential scan) in force."""
    before = set_for_transaction(session, INDEX_LOOKUP_SETTINGS)
    try:
        return list(session.scalars(matches_statement(table, where, cap, widen)))
    finally:
        set_for_transaction(session, before)
