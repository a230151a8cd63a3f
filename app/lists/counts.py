"""Row counts that stay cheap at millions of rows: capped exact counts and planner estimates.

One rule for every place that shows "how many": exact up to COUNT_CAP, beyond
that the planner's estimate (pg_class.reltuples) shown as "about 1.2M".
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import Select, column, func, select, text
from sqlalchemy.orm import Query, Session

from app.extensions import db
from app.i18n.translations import gettext as _  # the request's translations looked up once
from app.lists.scope import sees_all
from app.search.equalities import btree_equalities

COUNT_CAP = 10_000
# A user who sees only some owners' rows (row-level security) has their rows counted up to here ("1,000+"):
# each row counted passes the policy's test, so 10,001 of a rep's activities cost ~100 ms at scale 1
# and 1,001 about a tenth (docs/performance.md, "Admin and a Sales Rep side by side").
SCOPED_COUNT_CAP = 1_000
# A big table's estimate is kept this long per app: it changes only when the table is analysed,
# and an unfiltered list of a big table needs nothing else from the database to be counted.
BIG_ESTIMATE_TTL_S = 60.0


def planner_estimates(tables: list[str]) -> dict[str, int]:
    """reltuples per table: instant at any size; -1 for a table never analysed.

    Also -1 for a table of which the acting user sees only some rows (app/lists/scope.py): the
    whole table's size is not theirs to know, and their rows are counted (capped) instead.
    """
    result = db.session.execute(
        text("SELECT relname, reltuples::bigint FROM pg_class "
             "WHERE relkind IN ('r', 'p') AND relname = ANY(:t) AND relnamespace = 'public'::regnamespace")
        .columns(column("relname"), column("reltuples")),  # a typed SELECT: the audit hook skips it
        {"t": tables})
    return {table: n if sees_all(table) else -1 for table, n in result.all()}


def table_estimate(table: str) -> int:
    """planner_estimates of one table (-1 never analysed); kept BIG_ESTIMATE_TTL_S when above 2 x COUNT_CAP.

    Only a big table's: a small one is counted exactly anyway, and a table growing past the
    cap is seen at its next analysis, as before. The kept figure is the whole table's: never
    for a user who sees only some of its rows (-1, as planner_estimates says to them).
    """
    if not sees_all(table):
        return -1
    kept: dict[str, tuple[int, float]] = current_app.extensions.setdefault("crm_big_estimates", {})
    now = time.monotonic()
    found = kept.get(table)
    if found is not None and now - found[1] < BIG_ESTIMATE_TTL_S:
        return found[0]
    estimate = planner_estimates([table]).get(table, -1)
    if estimate > 2 * COUNT_CAP:
        kept[table] = (estimate, now)
    else:
        kept.pop(table, None)
    return estimate


def count_statement(query: Query) -> Select:
    """The statement counting the rows of `query`, which asks no order (a list's capped count, a bulk operation's), as
    Query.count() counts, with its equalities on text columns through their B-tree (app/search/equalities.py)."""
    rows = btree_equalities(query.enable_eagerloads(False).statement)
    return select(func.count()).select_from(rows.subquery())


def count_unordered(query: Query) -> int:
    """`count_statement` of `query`, run."""
    return query.session.scalar(count_statement(query))


@dataclass
class CappedCount:
    """A list's capped count still to run: `statement` counts up to `cap` + 1 rows; beyond the cap, the
    table's `estimate` where it is bigger, else "cap+". Run alone, or read with the list's first page."""

    statement: Select
    cap: int
    estimate: int
    counted: int | None = None  # the statement's result, once read with a page (`read_with`)

    def read_with(self, page: Query) -> list:
        """The rows of `page`, a first page, with this count read as a column of each: a round trip fewer.
        An empty first page is a count of none (the same rows: a page of none, a count of none)."""
        found = page.add_columns(self.statement.scalar_subquery()).all()
        self.counted = found[0][-1] if found else 0
        return [row[0] for row in found]

    def value(self, session: Session) -> int:
        """What the list shows: the count read with the page, or run now."""
        counted = self.counted if self.counted is not None else session.scalar(self.statement)
        if counted <= self.cap:
            return counted
        return EstimatedCount(self.estimate) if self.estimate > self.cap else AtLeastCount(self.cap + 1)


def about(n: int | None) -> str:
    if n is None:
        return ""
    if n < COUNT_CAP:
        return f"{n:,}"
    for limit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= limit:
            short = "{:.1f}{}".format(n / limit, suffix).replace(".0", "")
            return _("about %(count)s", count=short)
    return _("about %(count)s", count=n)


class AtLeastCount(int):
    """A capped count: pages and comparisons use the number, the page shows "10,000+"."""

    @property
    def known(self) -> int:
        """Rows known to exist: AtLeastCount(cap + 1) is "cap+" (10,000+, or a smaller cap's)."""
        return int(self) - 1

    def __str__(self) -> str:
        return f"{self.known:,}+"


class CappedMatches(AtLeastCount):
    """A searched list's matches beyond its cap: "1,000+", of which the list shows `known`."""

    capped_matches = True  # the list template says that only `known` of them are listed


class EstimatedCount(int):
    """The planner's row estimate of a whole table, shown as "about 1.2M"."""

    def __str__(self) -> str:
        return about(int(self))


def first_page_counted(interface: Any, filters: Any, order_column: str, order_direction: str,
                       page_size: int) -> tuple[list, bool, int]:
    """A list's first page (CrmInterface.page_rows), whether more rows follow, and its count (query_count).

    Where the count is a statement to run, the page reads it as a column of each row (`read_with`): a
    round trip fewer, in latency more than CPU. Every list of a user who sees only some owners' rows is
    counted (a rep's customers list at scale 1: 3 statements -> 2), and every filtered list.
    """
    count = interface.count_to_run(interface.session.query(interface.obj), filters, order_column=order_column)
    to_run = count if isinstance(count, CappedCount) else None  # a first page needs no other total
    rows, more = interface.page_rows(filters, order_column, order_direction, 0, page_size, to_run)
    return rows, more, to_run.value(interface.session) if to_run else count
