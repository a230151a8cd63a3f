"""FAB's SQLAInterface: lists counted, searched and paged at a million rows; refusals as messages (refusals.py)."""
from __future__ import annotations

import copy
import enum
from typing import Any

from flask import g
from flask_appbuilder.models.filters import Filters
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.utils.base import is_column_dotted
from flask_babel import gettext as _
from sqlalchemy import Integer, bindparam, func, inspect, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Query
from sqlalchemy.orm.exc import StaleDataError

from app.crud.refusals import dependents, friendly, out_of_scope, refuse
from app.crud.related import related_options
from app.lists.counts import (COUNT_CAP, SCOPED_COUNT_CAP, AtLeastCount, CappedCount, CappedMatches,
                              EstimatedCount, count_statement, table_estimate)
from app.lists.keyset import Cursor, KeysetPage, keyset_page
from app.lists.matches import capped_matches, in_list_order, keys_as_planned, keys_through_indexes, ordered_alike
from app.lists.scope import FOLLOWERS, followed_in_scope, owned_in_scope, visible_owners
from app.search.conditions import has_per_column, per_column
from app.search.equalities import btree_equalities
from app.search.filters import SEARCH_FILTERS, SearchFilterConverter


PK_MAX = 2**31 - 1  # SERIAL
DEEP_OFFSET = 1_000  # beyond this OFFSET, a page reads only keys first
# A search-filtered list counts exactly up to here ("1,000+" beyond) and lists at most this many
# matches: each match is a scattered read of a row found through the index (docs/performance.md)
SEARCH_COUNT_CAP = 1_000
ONLY_OWN_TABLE: dict[tuple, bool] = {}  # (table, filters' types and columns) -> read without a join
ONLY_OWN_TABLE_MAX = 1_024


class CrmFilters(Filters):
    """FAB's filters of a model; joined with the base filters without converting the model's columns again."""

    def get_joined_filters(self, filters: Filters) -> Filters:
        """As FAB's: these filters then `filters`'s, in a new object. FAB builds the new object's
        catalogue of every column's filter classes on every list page; it is the same as this one's
        (same model, same converter), which nothing changes once built, so it is shared."""
        joined = copy.copy(self)
        joined.search_columns, joined._search_filters = [], {}  # as FAB's joined filters: none to search by
        joined.filters = self.filters + filters.filters
        joined.values = self.values + filters.values
        return joined


class CrmInterface(SQLAInterface):
    """Adds a dependents check before delete, readable messages on refusal, indexed search filters."""

    filter_converter_class = SearchFilterConverter

    def get_filters(self, search_columns: list[str] | None = None,
                    search_filters: dict[str, list] | None = None) -> CrmFilters:
        return CrmFilters(self.filter_converter_class, self, search_columns=search_columns or [],
                          search_filters=search_filters)

    def get(self, id: Any, *args: Any, **kwargs: Any) -> Any:
        """A malformed or out-of-range key is simply not found (404), not a database error."""
        text = str(id)
        if not text.isdigit() or int(text) > PK_MAX:
            return None
        # the REST API passes select_columns too: forward whatever FAB gives
        return super().get(int(text), *args, **kwargs)

    def get_inner_filters(self, filters: Filters | None) -> Filters:
        """FAB copies a list's filters for each of its queries (count, keys, rows), converting every
        column's filters each time; filters on the model's own columns and many-to-one relations
        (all of this app's) are the inner filters as they are."""
        if filters is not None and not any(is_column_dotted(f.column_name) for f in filters.filters):
            return filters
        return super().get_inner_filters(filters)

    def filtered(self, query: Query, filters: Filters | None, order_column: str = "", order_direction: str = "",
                 select_columns: list[str] | None = None, deep: bool = False) -> Query:
        """`query` filtered and ordered as FAB's list query (its private `_apply_inner_all`) from public steps.

        `deep`: for a page past DEEP_OFFSET, a scoped user's contacts or activities are read from their
        customers' rows, as filtered ones are (`followed_filtered`): the newest rows are found by walking
        the sort index with the policy's hash of the user's customers, and thousands of rows deep that walk
        passes most of the table (a rep's page 1,319 of activities at scale 1: over 30 s; now 0.23 s).
        """
        query = self.apply_inner_select_joins(query, select_columns, aliases_mapping={})
        scope = owned_in_scope(self.obj)  # the user's rows through the owner index, not a scan
        if scope is None and (deep or self.followed_filtered(filters)):
            scope = followed_in_scope(self.obj, listed=deep)
        if scope is not None:
            query = query.filter(scope)
        if filters is not None:  # None: the caller has narrowed the rows itself (by_matches)
            query = self.apply_filters(query, self.get_inner_filters(filters))
        return self.apply_order_by(query, order_column, order_direction, aliases_mapping={},
                                   bypass_many_to_many=True, add_pk=True)

    def followed_filtered(self, filters: Filters | None) -> bool:
        """Whether `filtered` reads a scoped user's filtered contacts or activities from their customers' rows.

        Through (customer_id, ...) indexes (migration 0033), not the sort index walked past the rows
        of every other owner (a rep's visits, 1 activity in 3,000 at scale 1: 70,000 rows read). Those
        rows are then sorted: their related rows are loaded for the page's rows only (`with_related`).
        """
        return bool(filters is not None and filters.get_filters_values() and owned_in_scope(self.obj) is None
                    and followed_in_scope(self.obj) is not None)

    def search_matches(self, filters: Any, carry: str = "") -> list[int] | None:
        """Keys of up to SEARCH_COUNT_CAP + 1 rows of a list filtered by a search term; None without one.

        A "contains" or "matches words" filter (the `?q=` box is one) is served by a GIN index,
        whose matches come in no useful order, and the planner can only guess how many there are.
        The matches of the whole filter set are looked up first, capped (app/lists/matches.py:
        the newest rows, then the index); the list is counted, sorted and paged within at most
        SEARCH_COUNT_CAP of them, so a common word costs what a rare one does. Once per request.
        `carry`: the list's order column, read with the keys where that costs no more (`page_of_matches`).
        """
        found = self._matches(filters, carry)
        return None if found is None else found[0]

    def _matches(self, filters: Any, carry: str = "") -> tuple[list[int], str, list | None] | None:
        """`search_matches`' keys, the column they carry (`carry`, or "") and the (key, value) rows carrying it
        (else None), memoized per request by table and filters."""
        values = filters.get_filters_values() if filters else []
        if not any(isinstance(flt, SEARCH_FILTERS) for flt, _value in values):
            return None
        memo = g.setdefault("crm_search_matches", {})
        key = self.obj.__tablename__, tuple((type(f).__name__, f.column_name, str(v)) for f, v in values)
        if key not in memo:
            matching = self.filtered(self.session.query(self.obj), filters).with_entities(self.get_pk())
            table = self.obj.__table__
            scoped = visible_owners(table.name) is not None
            column = table.c.get(carry) if carry and carry != self.get_pk_name() else None
            column = column if column is not None and ordered_alike(column) else None  # else sorted by the database
            if not self._reads_only_own_table(matching, values) or (scoped and table.name in FOLLOWERS):
                # a filter joined another table, or a scoped user's contacts or activities (`filtered` added
                # their customers' rows): the matches through the indexes, in no order. A rep's are tens of
                # thousands, spread over their customers: windows of them find a common term's thousand
                # matches only after reading most of them (rep22's 33,000 activities at scale 1: 140 ms,
                # against 59 ms through the indexes)
                rows = self._indexed_matches(matching.add_columns(column) if column is not None else matching,
                                             rows_first=scoped and table.name in FOLLOWERS)
                keys, carried = [row[0] for row in rows], rows if column is not None else None
            else:
                where = matching.whereclause
                if scoped:  # the filters alone: capped_matches looks within the user's rows itself
                    filtered = self.apply_filters(self.session.query(self.obj), self.get_inner_filters(filters))
                    where = filtered.whereclause
                keys, carried = capped_matches(self.session, table, where, SEARCH_COUNT_CAP,
                                               self._table_estimate, column)
            memo[key] = keys, carry if carried is not None else "", carried
        return memo[key]

    def _reads_only_own_table(self, matching: Query, values: list) -> bool:
        """Whether the filtered statement reads this table alone (no join): the same for the same filters.

        SQLAlchemy compiles the statement to find its FROMs; the answer depends on which filters
        on which columns, not on their values, so it is kept per process.
        """
        key = (self.obj.__tablename__, tuple((type(f), f.column_name) for f, _value in values))
        found = ONLY_OWN_TABLE.get(key)
        if found is None:
            if len(ONLY_OWN_TABLE) >= ONLY_OWN_TABLE_MAX:  # filter sets come from URLs: bounded, start over
                ONLY_OWN_TABLE.clear()
            froms = [getattr(f, "name", None) for f in matching.statement.get_final_froms()]
            found = ONLY_OWN_TABLE[key] = froms == [self.obj.__tablename__]
        return found

    def _indexed_matches(self, matching: Query, rows_first: bool = False) -> list[tuple]:
        """`matching`'s first SEARCH_COUNT_CAP + 1 rows (the key, then any column added), in no order, with the
        index-lookup settings in force.

        `rows_first`: the planner reads the user's rows one by one (through their customers) rather
        than the search indexes; their checks are made for that (`per_column`: a leakproof test first, so
        the policy probes only the rows holding the query), and without the indexes' conditions where
        the planner reads none of the indexes (`keys_as_planned`).
        """
        statement = btree_equalities(matching.order_by(None).limit(SEARCH_COUNT_CAP + 1).statement)
        if rows_first and has_per_column(statement):
            return keys_as_planned(self.session, per_column(statement), per_column(statement, checks_only=True),
                                   rows=True)
        return keys_through_indexes(self.session, statement, rows=True)

    def _table_estimate(self) -> int:
        """The planner's row count of the whole table (-1 never analysed)."""
        return table_estimate(self.obj.__tablename__)

    def by_matches(self, filters: Any, order_column: str = "", order_direction: str = "") -> Query | None:
        """The rows of a search-filtered list's matching keys (the first SEARCH_COUNT_CAP), ordered; else None.

        By their keys alone: they were found under every filter of the list, and the filters'
        conditions again would let the planner look the matches up through the indexes once more.
        """
        keys = self.search_matches(filters)
        if keys is None:
            return None
        listed = bindparam("crm_matches", keys[:SEARCH_COUNT_CAP], type_=ARRAY(Integer))
        query = self.filtered(self.session.query(self.obj), None, order_column, order_direction)
        # each read by its key, then sorted: given `key = ANY(keys)` the planner walks the sort index checking
        # every entry against them (PostgreSQL 18's skip scan), far past the matches where they are spread
        # over the table or sorted by another column than the key (a rep's 1,001 activities, 105 ms -> 34 ms
        # at scale 1; the admin's activities ?q=renewal by date, 20-25 ms -> 10-14 ms)
        return query.filter(self.get_pk().in_(select(func.unnest(listed))))

    def query_count(self, query: Any, filters: Any = None, select_columns: Any = None, order_column: str = "") -> int:
        """FAB runs an exact COUNT(*) on every list page; at a million rows that is the page.

        Count at most COUNT_CAP + 1 rows; past that, an unfiltered list shows the
        planner's estimate and a filtered one "10,000+". `order_column`: the page's, whose values
        a search's matches then carry (`search_matches`): the page is read after the count.
        """
        count = self.count_to_run(query, filters, select_columns, order_column)
        return count.value(self.session) if isinstance(count, CappedCount) else count

    def count_to_run(self, query: Any, filters: Any = None, select_columns: Any = None,
                     order_column: str = "") -> int | CappedCount:
        """query_count's count, or the statement that counts (a CappedCount) where one must run."""
        matches = self.search_matches(filters, carry=order_column) if select_columns is None else None
        if matches is not None:
            return len(matches) if len(matches) <= SEARCH_COUNT_CAP else CappedMatches(SEARCH_COUNT_CAP + 1)
        unfiltered = not (filters and filters.get_filters_values())
        estimate = self._table_estimate() if unfiltered else -1
        if estimate > 2 * COUNT_CAP:  # clearly big: counting 10,001 rows would only confirm it
            return EstimatedCount(estimate)
        # a contact's, an activity's: from the user's customers (`filtered` adds it to a filtered list)
        scope = followed_in_scope(self.obj) if unfiltered else None
        counted = query.filter(scope) if scope is not None else query
        cap = COUNT_CAP if visible_owners(self.obj.__tablename__) is None else SCOPED_COUNT_CAP
        return CappedCount(count_statement(self.filtered(counted, filters, select_columns=select_columns)
                                           .limit(cap + 1)), cap, estimate)

    def get_values(self, lst: Any, list_columns: list[str]) -> Any:
        """FAB's rows as dicts; for mapped attributes alone, read directly (FAB asks hasattr and callable per cell)."""
        mapped = inspect(self.obj).attrs
        if not all(col in mapped for col in list_columns):
            yield from super().get_values(lst, list_columns)
            return
        # a mapped attribute's value is never a method; FAB shows an Enum by its value. The page's
        # cells in one pass, read from the row's loaded state where they are there (no descriptor per cell)
        for item in lst:
            loaded = item.__dict__
            row = {}
            for col in list_columns:
                value = loaded[col] if col in loaded else getattr(item, col)
                row[col] = value.value if isinstance(value, enum.Enum) else value
            yield row

    def with_related(self, query: Query, separately: bool = False) -> Query:
        """Load each row's many-to-one rows in the same statement: no query per row on a page.

        `separately`: one more statement per relation, for the page's rows only. For a page
        chosen among a search's matches, which the database would otherwise join to their
        related rows all before sorting them.
        """
        return query.options(*related_options(self.obj, separately))

    def query(self, filters: Any = None, order_column: str = "", order_direction: str = "",
              page: int | None = None, page_size: int | None = None, select_columns: Any = None,
              outer_default_load: bool = False) -> tuple[int, list]:
        if select_columns:  # the REST API selects and joins its own columns
            return super().query(filters, order_column, order_direction, page, page_size,
                                 select_columns, outer_default_load)
        count = self.query_count(self.session.query(self.obj), filters, order_column=order_column)
        total = None if isinstance(count, (AtLeastCount, EstimatedCount)) else count  # exact, not "1,000+"
        return count, self.page_rows(filters, order_column, order_direction, page, page_size, total)[0]

    def page_rows(self, filters: Any, order_column: str, order_direction: str, page: int | None,
                  page_size: int | None, total: int | CappedCount | None = None) -> tuple[list, bool]:
        """Rows of page `page` (FAB's numbering) and whether more follow.

        Past DEEP_OFFSET rows the page is found by its keys alone (an index-only scan
        of the sort index), then only its own rows are read; and with the list's exact `total`,
        a page nearer the end is read from the end (`keys_from_the_end`). A count still to run
        as `total` is read with a shallow page's rows (app/lists/counts.py, `first_page_counted`).
        """
        offset = (page or 0) * (page_size or 0)
        limit = page_size + 1 if page_size else None
        counting, total = (total, None) if isinstance(total, CappedCount) else (None, total)  # read with the rows
        in_key_order = self.page_of_matches(filters, order_column, order_direction, offset, limit)
        if in_key_order is not None:
            rows = in_key_order
            return rows[:page_size] if page_size else rows, bool(page_size and len(rows) > page_size)
        matched = self.by_matches(filters, order_column, order_direction)
        ordered = matched or self.filtered(self.session.query(self.obj), filters, order_column, order_direction,
                                           deep=offset > DEEP_OFFSET)
        if offset <= DEEP_OFFSET:
            separately = matched is not None or self.followed_filtered(filters)
            rows_of_page = self.with_related(ordered, separately=separately).offset(offset).limit(limit)
            rows = counting.read_with(rows_of_page) if counting and not offset else rows_of_page.all()
        else:
            keys = self.keys_from_the_end(filters, order_column, order_direction, offset, limit, total)
            if keys is None:
                keys = [key for (key,) in ordered.with_entities(self.get_pk()).offset(offset).limit(limit)]
            rows = self.rows_of(keys)
        return rows[:page_size] if page_size else rows, bool(page_size and len(rows) > page_size)

    def keys_from_the_end(self, filters: Any, order_column: str, order_direction: str, offset: int,
                          limit: int | None, total: int | None) -> list | None:
        """The keys of rows `offset` to `offset + limit` read in the opposite order from the end, when the
        list's exact `total` puts them nearer the end than the start; else None.

        An OFFSET reads and sorts every row before the page: a rep's last page of 33,021 activities
        at scale 1 sorted all of them (65 ms); from the end it is a first page (5 ms). The order is
        total (the key breaks ties) and PostgreSQL's NULLS default mirrors with the direction, so the
        rows read backwards are exactly the page's, reversed.
        """
        if total is None or limit is None or not 0 < total - offset < offset:
            return None
        backwards = "asc" if order_direction == "desc" else "desc"
        start = max(0, total - offset - limit)
        # (a searched list never gets here: its SEARCH_COUNT_CAP matches end before DEEP_OFFSET)
        query = self.filtered(self.session.query(self.obj), filters, order_column, backwards, deep=True)
        keys = [key for (key,) in query.with_entities(self.get_pk()).offset(start).limit(total - offset - start)]
        return keys[::-1]

    def page_of_matches(self, filters: Any, order_column: str, order_direction: str, offset: int,
                        limit: int | None) -> list | None:
        """A searched list's page cut from its matches here, and only its rows read: in key order (the lists'
        default, newest first), or by the order column read with the keys (`search_matches`' `carry`); None
        for another order or without a search.

        The database would read every match again (a thousand for a common word) to sort them (customers
        ?q=Logistics and an industry at scale 1: 5 ms -> 1 ms; a rep's activities ?q=renewal by date: 1,000
        rows read again under the policy, ~7,000 buffers, for 26)."""
        found = self._matches(filters)
        if found is None:
            return None
        keys, carried_column, carried = found
        descending = order_direction == "desc"
        if order_column == self.get_pk_name():
            keys = sorted(keys[:SEARCH_COUNT_CAP], reverse=descending)
        elif carried is not None and carried_column == order_column:
            keys = in_list_order(carried[:SEARCH_COUNT_CAP], descending)
        else:
            return None
        return self.rows_of(keys[offset:offset + limit if limit else None])

    def rows_of(self, keys: list) -> list:
        """The rows of `keys` (found under the list's filters and scope), in that order, with their related rows."""
        pk = self.get_pk()
        query = self.with_related(self.session.query(self.obj)).filter(pk.in_(keys))
        found = {getattr(row, pk.key): row for row in query}
        return [found[key] for key in keys if key in found]

    def keyset(self, filters: Any, order_column: str, descending: bool, page_size: int, *,
               after: Cursor | None = None, before: Cursor | None = None, last: bool = False) -> KeysetPage:
        """A page next to a row's position (or the last page), by keyset: no OFFSET at any depth."""
        matched = self.by_matches(filters)
        query = matched or self.filtered(self.session.query(self.obj), filters)
        return keyset_page(query, getattr(self.obj, order_column), self.get_pk(), descending, page_size,
                           after=after, before=before, last=last, nullable=self.is_nullable(order_column),
                           options=lambda q: self.with_related(
                               q, separately=matched is not None or self.followed_filtered(filters)))

    def cursor_type(self, order_column: str) -> type:
        try:
            return getattr(self.obj, order_column).type.python_type
        except (AttributeError, NotImplementedError):
            return str

    def is_float(self, col_name: str) -> bool:
        # FAB converts filter values only for Integer/Float columns; without this a
        # NUMERIC filter binds text and PostgreSQL refuses "numeric = varchar".
        return super().is_float(col_name) or super().is_numeric(col_name)

    def add(self, item: Any, commit: bool = True) -> None:
        try:
            super().add(item, commit)
        except SQLAlchemyError as exc:
            g.crm_forbidden = out_of_scope(exc)  # the API answers 403
            raise refuse(friendly(exc))

    def edit(self, item: Any, commit: bool = True) -> None:
        try:
            super().edit(item, commit)
        except Exception as exc:
            cause = exc.__cause__ if isinstance(exc.__cause__, SQLAlchemyError) else exc
            message = friendly(cause) if isinstance(cause, SQLAlchemyError) else str(exc)
            g.crm_conflict = isinstance(cause, StaleDataError)  # the API answers 409
            g.crm_forbidden = out_of_scope(cause)  # and 403 to a write the data scope refuses
            raise refuse(message)  # FAB's edit flashes the view's `database_error_message`: see CrmModelView

    def delete(self, item: Any, commit: bool = True) -> None:
        blocking = dependents(item)
        if blocking:
            g.crm_conflict = True  # the API answers 409: the row's state (its dependents) forbids it
            raise refuse(
                _("Cannot delete %(item)s: it still has %(what)s. Delete or move those first.",
                  item=str(item), what=", ".join(blocking))
            )
        try:
            super().delete(item, commit)
        except Exception as exc:
            g.crm_conflict = isinstance(exc, StaleDataError) or isinstance(exc.__cause__, StaleDataError)
            raise refuse(_("Cannot delete %(item)s: other records still refer to it.", item=str(item)))
