"""The capped set of a searched list's matches: up to `cap` + 1 keys, read in one statement.

A list filtered by a search (the `?q=` box, a "contains" or "matches words" filter) is paged,
sorted and counted within these keys, never by the whole filtered table: a common word matches
hundreds of thousands of rows, and the page query walked or sorted them all (a quarter of a
second on a million customers, docs/performance.md). One statement builder,
`newest_then_indexed`, serves this and the CRM-wide search (app/search/service.py,
`candidates_statement`); the matches are looked for:

1. among the newest PROBE_ROWS rows, read by key and checked row by row (`for_rows`: ILIKE as
   lower() LIKE lower()): a frequent term is done there, with the newest matches. Where the list
   is also filtered on a column equal to a value (a type, a status) and a (column, key) B-tree
   serves it (app/models/list_indexes.py), the windows are the newest rows of that value, read
   through it: the term's share among them decides, not the filtered term's share of all rows;
2. when those held enough matches (`widen_at`: a term common enough for the table's size), the next
   rows too, as many as the probe's share of matches says hold the rest of the cap (at most
   WIDER_MAX): read in key order they hold it sooner than an index, whose bitmap for such a
   term holds a large share of the table;
3. through the search indexes (sequential scans off), in no particular order, without the rows
   the windows found; an equality on a text column through its B-tree, not its trigram index
   (app/search/equalities.py).

The parts are a UNION ALL under the cap's LIMIT: PostgreSQL runs a part only while the LIMIT
still wants rows. The whole condition (every filter of the list, not only the search) is
checked in each part, so filters narrow the matches before the cap.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from functools import cache

from sqlalchemy import Integer, Select, Subquery, case, cast, false, func, not_, select, true, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import (BinaryExpression, BindParameter, BooleanClauseList, ClauseElement, ColumnElement,
                                     Grouping)
from sqlalchemy.sql.schema import Column, Table
from sqlalchemy.sql.util import ClauseAdapter
from sqlalchemy.sql.visitors import InternalTraversal, iterate

from app.fields.derived import columns_cache
from app.lists.planner import INDEX_LOOKUP_SETTINGS, settings_in_force
from app.search.conditions import for_rows, without_index_only
from app.search.equalities import btree_equalities
from app.search.scoped import own_then_indexed, search_scope

PROBE_ROWS = 2_000  # newest rows checked first: a term in half of the rows fills the cap here
# Reading a row one by one costs about as much as ROW_COST index entries in a bitmap (measured
# at scale 1, docs/performance.md). The next rows are read when that is cheaper than the index
# would be for the share of matches the probe found: the index reads share x table rows, the
# window cap / share rows, so from a share of sqrt(ROW_COST x cap / table rows) on (1.8 % of
# 10M activities, 5.7 % of 1M customers), never below MIN_SHARE.
ROW_COST = 3.3
MIN_SHARE = 0.01
WIDER_MAX = 100_000  # rows at most in that window
MARGIN = 1.25  # its rows: what the probe's share says the rest of the cap needs, and a quarter more


def _window(table, pk, columns: list, rows, name: str, below: ColumnElement | None = None,
            keyed: Sequence[ColumnElement] = ()):
    """`columns` of the newest `rows` rows (with a key below `below`, if given, and meeting `keyed`),
    read backwards by the key."""
    # `column = value` as a range ordered by (column, key): read through that index, never the key's
    # with a filter (an equality lets the planner drop the column from the order, and for a value it
    # deems rare it walks the key's index past every other value's rows: 357,000 for 14,000 tickets)
    window = select(pk, *columns).where(*(part for k in keyed for part in (k.left >= k.right, k.left <= k.right)))
    if below is not None:
        window = window.where(pk < below)
    return window.order_by(*(k.left.desc() for k in keyed), pk.desc()).limit(rows).subquery(name)


def _conjuncts(condition: ColumnElement) -> list[ColumnElement]:
    """The parts of a condition ANDed at its top (nested ANDs flattened)."""
    if isinstance(condition, BooleanClauseList) and condition.operator is operators.and_:
        return [part for clause in condition.clauses for part in _conjuncts(clause)]
    if isinstance(condition, Grouping):
        return _conjuncts(condition.element)
    return [condition]


def keyed_filters(table, condition: ColumnElement) -> list[ColumnElement]:
    """The condition's ANDed `column = value` parts that a (column, key) B-tree reads in key order.

    Only those: through another index the newest rows of a value are found by sorting them all,
    and without one by reading the table backwards until enough of them turn up.
    """
    keyed = keyed_columns(table)
    return [part for part in _conjuncts(condition)
            if isinstance(part, BinaryExpression) and part.operator is operators.eq
            and isinstance(part.left, Column) and part.left.table is table and part.left.name in keyed
            and isinstance(part.right, BindParameter)]


@columns_cache  # with the other caches of a table's columns: emptied whenever fields map or unmap columns
@cache
def keyed_columns(table: Table) -> frozenset[str]:
    """The columns of `table` that lead one of its declared (column, key) indexes (app/models/list_indexes.py)."""
    pk = next(iter(table.primary_key.columns))
    return frozenset(index.columns[0].name for index in table.indexes
                     if [c.name for c in index.columns] == [index.columns[0].name, pk.name])


def widen_at(cap: int, table_rows: float) -> int:
    """Matches in the probe from which the next rows are read too (see ROW_COST)."""
    share = max(MIN_SHARE, math.sqrt(ROW_COST * (cap + 1) / max(table_rows, 1.0)))
    return max(1, math.ceil(share * PROBE_ROWS))


def newest_then_indexed(table, columns: list, check: Callable[[Subquery], ColumnElement | None],
                        lookups: Sequence[ColumnElement], limit: int,
                        wider_rows: Callable[[ColumnElement], ColumnElement], lowered: bool = False,
                        keyed: Sequence[ColumnElement] = (), carried: Sequence[Column] = ()) -> Select | None:
    """Keys of up to `limit` rows: the newest rows' matches first, then the indexes' (the lists' and the CRM-wide search's).

    `check(window)`: the exact condition on a window of `columns` read by key (None: no window is
    read); the newest PROBE_ROWS rows are checked, then `wider_rows(found)` rows below them, a
    number computed once from the probe's `found` matches before any of those rows is read.
    Then each of `lookups` through the indexes, without the rows the windows found (by key) and
    those the lookups before it found (by their conditions). None when nothing is to be read.
    `lowered`: `check` gives conditions already as `for_rows` makes them (not traversed again).
    `keyed`: conditions every window's rows meet, read through a (column, key) index (`keyed_filters`).
    `carried`: columns of `table` selected with each key (the list's order column), read from the same rows.
    """
    pk = next(iter(table.primary_key.columns))
    columns = columns + [c for c in carried if c.name not in {read.name for read in columns}]
    newest = _window(table, pk, columns, PROBE_ROWS, "newest", keyed=keyed)
    parts: list[Select] = []
    probed: list[ColumnElement] = []  # the windows' matches: the lookups leave them out

    def matching(window) -> Select | None:
        condition = check(window)
        if condition is None:
            return None
        condition = condition if lowered else for_rows(condition)
        # in the window's order (newest first: its key, or its keyed columns, constant, then its key), not sorted
        # again: a sort read the whole window before its first match, where streamed the cap's LIMIT stops
        # reading it at the match that fills the cap (tickets ?q=invoice and open at scale 1: 16,750 -> 13,968 rows)
        return (select(window.c[pk.name].label("pk"), *(window.c[c.name] for c in carried))
                .where(condition).limit(limit))

    probe = matching(newest)
    if probe is not None:
        probe = probe.cte("probe")
        # the wider window starts below the probe's last row; its length is computed once, before any row
        rows = select(wider_rows(func.count())).select_from(probe).scalar_subquery()
        below = select(func.min(newest.c[pk.name])).scalar_subquery()
        widened = matching(_window(table, pk, columns, rows, "wider", below=below, keyed=keyed)).cte("widened")
        for window_matches in (probe, widened):
            parts.append(select(window_matches.c.pk, *(window_matches.c[c.name] for c in carried)))
            # a lookup runs only once the windows are read to their end: all their rows are known
            probed.append(pk.not_in(select(window_matches.c.pk)))
    for i, where in enumerate(lookups):
        earlier = [not_(func.coalesce(e, false())) for e in lookups[:i]]
        parts.append(select(pk.label("pk"), *carried).where(where, *probed, *earlier).limit(limit))
    if not parts:
        return None
    found = union_all(*parts).subquery("found") if len(parts) > 1 else parts[0].subquery("found")
    return select(found.c.pk, *(found.c[c.name] for c in carried)).limit(limit)


def _read_columns(table, condition: ColumnElement) -> list[Column]:
    """The columns of `table` other than its key that `condition` reads: the windows carry only those."""
    pk = next(iter(table.primary_key.columns))
    names = {e.name for e in iterate(condition) if isinstance(e, Column) and e.table is table}
    return [table.c[name] for name in sorted(names) if name != pk.name]


def _index_lookups(condition: ColumnElement) -> list[ColumnElement]:
    """The lookups of a list's matches through the indexes: the whole condition, once. In no order (the
    windows give the newest), so its equalities on text columns through their B-tree (app/search/equalities.py)."""
    return [btree_equalities(condition)]


def matches_statement(table, where: ColumnElement | None, cap: int, table_rows: float = 0,
                      carried: Sequence[Column] = ()) -> Select:
    """Keys of up to `cap` + 1 rows of `table` matching `where`: the windows' newest first, then the index's.

    `table_rows`: the planner's estimate of the table's rows, which sets when the wider window is read.
    `carried`: columns selected with each key (`newest_then_indexed`).
    """
    limit = cap + 1
    condition = where if where is not None else true()

    def wider_rows(found: ColumnElement) -> ColumnElement:
        # as many rows as the probe's share of matches says the rest of the cap needs (none below widen_at)
        return case((found >= widen_at(cap, table_rows), func.least(
            WIDER_MAX, cast((limit - found) * PROBE_ROWS * MARGIN / func.greatest(found, 1), Integer))), else_=0)

    # row by row: the exact checks only, not the expressions computed for the indexes; made so
    # once and adapted to each window (each traversal copies the whole condition)
    rows_condition = for_rows(without_index_only(condition))
    statement = newest_then_indexed(table, _read_columns(table, condition),
                                    lambda window: ClauseAdapter(window).traverse(rows_condition),
                                    _index_lookups(condition), limit, wider_rows, lowered=True,
                                    keyed=keyed_filters(table, condition), carried=carried)
    assert statement is not None  # a window is always read
    return statement


def own_matches_statement(table, where: ColumnElement | None, cap: int) -> Select | None:
    """Keys of up to `cap` + 1 of the acting user's rows of `table` matching `where`, as the CRM-wide search
    finds a scoped user's (app/search/scoped.py): windows of their rows, then the indexes within them.

    Its parameters are `search_scope(table)`'s; None for a table without owners."""
    condition = where if where is not None else true()
    rows_condition = without_index_only(condition)
    return own_then_indexed(table, _read_columns(table, condition),
                            lambda window: ClauseAdapter(window).traverse(rows_condition),
                            _index_lookups(condition), cap + 1)


def capped_matches(session: Session, table, where: ColumnElement | None, cap: int,
                   table_rows: Callable[[], float], carry: Column | None = None) -> tuple[list[int], list | None]:
    """Run matches_statement with the index-lookup settings (no sequential scan) in force: the keys, and
    with `carry` the (key, value of `carry`) rows where matches_statement read them (else None).

    For a user who sees only some owners' rows, `own_matches_statement` within them when their rows are
    narrowed by an index (`search_scope`): the table's newest rows would hold few of theirs.
    `table_rows`: the planner's estimate of the table's rows, asked only for matches_statement.
    """
    scope = search_scope(table.name)
    statement = own_matches_statement(table, where, cap) if scope is not None else None
    if statement is not None:
        return keys_through_indexes(session, statement, scope or {}), None
    carried = [carry] if carry is not None else []
    rows = keys_through_indexes(session, matches_statement(table, where, cap, table_rows(), carried), rows=True)
    return [row[0] for row in rows], rows if carried else None


class Explain(Executable, ClauseElement):
    """EXPLAIN (FORMAT JSON) of a statement, compiled (and cached) as SQLAlchemy compiles the statement itself."""

    inherit_cache = True
    _traverse_internals = [("statement", InternalTraversal.dp_clauseelement)]

    def __init__(self, statement) -> None:
        self.statement = statement

    @property
    def _all_selected_columns(self):
        """The statement's: a cached compilation adapts its result map to them (one column read, by position)."""
        return self.statement._all_selected_columns


@compiles(Explain)
def _explain(element: Explain, compiler, **kw) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


SEARCH_INDEX_SUFFIXES = ("_trgm", "_words", "_bigrams")  # app/models/search_indexes.py, app/fields/ddl.py


def _reads_search_index(plan: dict) -> bool:
    """Whether a plan (EXPLAIN's JSON node) or one below it reads a search index."""
    return str(plan.get("Index Name", "")).endswith(SEARCH_INDEX_SUFFIXES) or \
        any(_reads_search_index(child) for child in plan.get("Plans", ()))


def keys_as_planned(session: Session, statement, checks_only, rows: bool = False) -> list:
    """The keys `statement` selects, with the index-lookup settings; by `checks_only` (the same rows, their
    exact checks without the search indexes' conditions) when the planner reads no search index for it.

    The planner decides between a scoped user's rows one by one and the search indexes (a rare term);
    one by one, each match computed the indexes' expressions too, for nothing the exact checks did not
    say (rep22's 1,001 activities holding a common CJK bigram at scale 1: 17 ms). Asked once (EXPLAIN,
    planning only: ~0.6 ms), then the cheaper form is read; with no index left to choose it reads the
    rows the same way (rep22's at scale 1: the same keys in the same order). `rows`: the statements select
    more than the key, and their rows (tuples) are returned.
    """
    with settings_in_force(session, INDEX_LOOKUP_SETTINGS):
        connection = session.connection()
        plan = connection.execute(Explain(statement)).scalar()
        chosen = statement if _reads_search_index(plan[0]["Plan"]) else checks_only
        return _fetched(connection.execute(chosen), rows)


def keys_through_indexes(session: Session, statement, params: dict | None = None, rows: bool = False) -> list:
    """The keys `statement` selects, read with the index-lookup settings in force for it alone.

    All fetched at once (iterating fetched them one call at a time), through Core (no ORM rows). The
    settings are put back after a statement that ran; a failed one leaves the transaction to be rolled
    back with its own error, not one from putting them back (`settings_in_force`). `rows`: as
    `keys_as_planned`'s.
    """
    with settings_in_force(session, INDEX_LOOKUP_SETTINGS):
        return _fetched(session.connection().execute(statement, params or {}), rows)


def _fetched(result, rows: bool) -> list:
    """A result's first column, or with `rows` its rows as tuples; all fetched at once."""
    return [tuple(row) for row in result.all()] if rows else list(result.scalars().all())


# The Python types whose values Python orders as PostgreSQL does. Not text (the database's collation
# decides), nor numeric or floating point (NaN), nor enums (their declaration order).
ORDERED_ALIKE = (bool, int, dt.date)  # a datetime is a date


def ordered_alike(column) -> bool:
    """Whether `column`'s values sort in Python as in an ORDER BY of it."""
    try:
        return issubclass(column.type.python_type, ORDERED_ALIKE)
    except NotImplementedError:
        return False


def in_list_order(rows: list[tuple[int, object]], descending: bool) -> list[int]:
    """The keys of (key, value) rows in a list's order, `ORDER BY value, key` both ascending or both descending.

    NULLs as PostgreSQL puts them by default: last ascending, first descending (a NULL is the greatest).
    """
    ordered = sorted(rows, key=lambda row: (row[1] is None, row[1], row[0]), reverse=descending)
    return [key for key, _value in ordered]
