"""The CRM-wide search for a user who sees only some owners' rows: looked up within their rows.

The row-level policies (migrations 0026, 0027) let a Sales Rep see a few thousand of a million
customers, and their contacts and activities through them. Searched like the admin's, a term's
candidates are the newest rows of the whole table and the search index's matches, each then
tested by the policy: a rep's rows are one in three hundred, so a common term reads thousands
of other reps' rows before it finds its hundred, and a rare one all of its index's matches.
Here every lookup is narrowed to the user's rows in a form an index serves (the same condition
as the lists' `owned_in_scope`, `followed_in_scope`, app/lists/scope.py): `owner_id` of the
owners the user sees, or the customer of a contact or activity among those owners' customers.
A window of the user's rows is read through that index and checked row by row first (a common
term: the first hundred found end it), then the search indexes' lookups within the user's rows,
which the planner intersects with the scope's index (a rare term). The policies still decide:
this only adds the rows' index.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import g
from sqlalchemy import (Integer, Select, Subquery, Text, TypeDecorator, all_, and_, any_, bindparam, case, cast, false,
                        func, literal_column, not_, or_, select, true, union_all)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.extensions import db
from app.lists.scope import CONTACTLESS, FOLLOWERS, contactless_activities, remember_contactless, visible_owners
from app.models import Customer
from app.models.ownership import OWNED_TABLES
from app.search.conditions import for_rows

OWNERS = "search_owners"  # bound parameters: the owners whose rows the user sees,
CUSTOMERS = "search_customers"  # and those owners' customers (for contacts and activities)
# Above this many customers (a big team's manager) their contacts and activities are searched as the
# admin's are: the customer index's bitmap costs ~3 buffers a customer, and the table's newest rows
# hold enough of a team's (one in twenty at scale 1) to fill the candidates.
CUSTOMERS_MAX = 10_000


class KeysText(TypeDecorator):
    """An integer[] parameter given in PostgreSQL's text form ("{1,2,3}"), bound as is (the SQL casts it).

    A rep's customers are thousands of keys, bound in two statements (contacts, activities): the
    database gives them in that form (`_customers_text`), which psycopg binds with no work per key
    (a list is dumped element by element: ~1.7 ms for 3,467 keys, with the GIL held). The server
    reads it as the same integer[] constant: same plans.
    """
    impl = ARRAY(Integer)
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


def _keys_statement(contactless: bool) -> Select:
    """How many customers `owners` have (up to CUSTOMERS_MAX + 1) and their keys, ordered, as array text;
    with `contactless` also whether an activity the user sees lacks a customer (contactless_activities)."""
    keys = (select(Customer.customer_id).where(Customer.owner_id == any_(bindparam("owners", type_=ARRAY(Integer))))
            .order_by(Customer.customer_id).limit(CUSTOMERS_MAX + 1).subquery())
    joined = cast(func.array_agg(aggregate_order_by(keys.c.customer_id, keys.c.customer_id)), Text)
    statement = select(func.count(), func.coalesce(joined, "{}")).select_from(keys)
    return statement.add_columns(CONTACTLESS) if contactless else statement


# built once: a statement built per request costs more Python than its round trip
KEYS, KEYS_AND_CONTACTLESS = _keys_statement(False), _keys_statement(True)


def _customers_text(owners: list[int], contactless: bool = False) -> str | None:
    """The customers of `owners` in PostgreSQL's array text form, once per request; None above CUSTOMERS_MAX.

    Joined by the database from the owner index (~1.5 ms for 3,467 keys at scale 1): read as rows, the
    keys cost the app a few milliseconds more, before any entity's search starts. `contactless`: the
    request will ask `contactless_activities` too, answered by the same statement (a round trip fewer).
    """
    if "crm_search_customers_text" not in g:
        ask = contactless and contactless_activities(ask=False) is None
        row = db.session.execute(KEYS_AND_CONTACTLESS if ask else KEYS, {"owners": owners}).one()
        if ask:
            remember_contactless(row[2])
        g.crm_search_customers_text = row[1] if row[0] <= CUSTOMERS_MAX else None
    return g.crm_search_customers_text


def search_scope(table: str, with_activities: bool = False) -> dict[str, list[int] | str] | None:
    """The parameters of `in_scope(table)` for the acting user, when the search is narrowed to their rows; else None.

    None for a user who sees all, and for activities when one the user sees has no customer (its
    contact's decides, which the customers' condition would leave out, as `followed_in_scope` does).
    A follower table's rows are narrowed by their customer's key, listed: a literal set of keys lets
    the planner intersect the customer index's rows with the search index's (a bitmap AND) before
    reading any row, where a subquery of customers made it probe the search index once per customer.
    `with_activities`: the request searches activities too (its customers' keys are read with what
    activities need, in one statement).
    """
    owners = visible_owners(table)
    activities = table == "activities"
    if owners is None or (activities and contactless_activities(ask=False)):  # known: no customers' keys read
        return None
    if table in FOLLOWERS:
        customers = _customers_text(owners, contactless=activities or with_activities)
        if activities and contactless_activities():  # answered by _customers_text's statement when not known
            return None
        return None if customers is None else {CUSTOMERS: customers}
    return {OWNERS: owners} if table in OWNED_TABLES else None


def in_scope(table) -> ColumnElement | None:
    """The rows of `table` owned by OWNERS, or (contacts, activities) of CUSTOMERS; None for a table without owner."""
    if table.name in FOLLOWERS:
        return table.c.customer_id == any_(bindparam(CUSTOMERS, type_=KeysText(), required=True))
    if table.name in OWNED_TABLES:
        return table.c.owner_id == any_(bindparam(OWNERS, type_=ARRAY(Integer), required=True))
    return None


PROBE_ROWS = 1_000  # the user's rows checked first, in the scope index's order: a common term is done there
# From this many matches among them (0.8 %) the next rows are read too rather than the search index: as
# many as the probe's share says hold the rest (a quarter more), at most WIDER_MAX. Measured at scale 1
# (a rep's activities, docs/performance.md): a row read one by one ~9 us, a bitmap entry of the search
# index ~1.1 us, the customers' bitmap ~15-40 ms; with 10M rows the two cost the same near a 0.8 % share.
WIDEN_AT = 8
WIDER_MAX = 16_000
MARGIN = 1.25


def _order(table) -> list:
    """The order the scope's index gives the user's rows in: by customer (a follower table), by owner and key."""
    if table.name in FOLLOWERS:
        return [table.c.customer_id]
    return [table.c.owner_id, next(iter(table.primary_key.columns))]


def _theirs(table, columns: list, scope: ColumnElement):
    """`columns` of the user's rows in the scope index's order, as many as the windows may read: one scan for both.

    The windows are its first PROBE_ROWS rows and the rows after them, and a CTE is read only as far as
    its readers ask. A scan per window planned the scope's literal keys twice (~2 ms each for a rep's
    3,467 customers at scale 1), and the second, costed as a large share of the user's rows, was a bitmap
    scan of all of them in the table's order: its OFFSET skipped other rows than the first window had
    read, and some were never checked (rep22's contacts holding 王: 55 found of 64).

    An owned table's rows are ordered by owner and key, a total order, and its scope is a few owners'
    keys (cheap to plan): there each window is its own scan (the CTE inlined, NOT MATERIALIZED, no
    LIMIT of its own), which the window's LIMIT makes an ordered scan of the owner index that stops
    there. Read once for both, the planner costed reading all of the user's rows (the LIMIT is above
    its estimate) and read them all by bitmap, then sorted them: rep22's 6,684 opportunities, 6,234
    buffers for the first thousand (948 so, scale 1).
    """
    pk = next(iter(table.primary_key.columns))
    theirs = select(pk, *columns).where(scope).order_by(*_order(table))
    if table.name not in FOLLOWERS:
        return theirs.cte("theirs").prefix_with("NOT MATERIALIZED")
    return theirs.limit(PROBE_ROWS + WIDER_MAX).cte("theirs")


def _window(theirs, offset: int, rows, name: str):
    """Rows of `theirs` after the first `offset`, `rows` of them."""
    window = select(*theirs.c).limit(rows)
    return (window.offset(offset) if offset else window).cte(name)


def _in_turn(table, lookups: Sequence[ColumnElement]) -> list:
    """The order of one scan of `lookups` ORed that their own lookups in turn would have found its rows in.

    Each lookup's bitmap scan returns its rows in the table's order (by ctid); the lookups of a UNION ALL
    in turn, each without the earlier ones' rows. As one scan, the rows are those of the first lookup
    that holds them, sorted so: under the same LIMIT, the same rows.
    """
    turn = case(*((condition, i) for i, condition in enumerate(lookups[:-1])), else_=len(lookups) - 1)
    return [turn, literal_column(f"{table.name}.ctid")]


def _windows(table, columns: list, check: Callable[[Subquery], ColumnElement | None], limit: int,
             scope: ColumnElement) -> tuple[list[Select], list[ColumnElement], list[ColumnElement]] | None:
    """own_then_indexed's windows: their parts, the rows they found (to leave out of the lookups), and the
    conditions for the lookups to run (the user has rows the windows did not read); None without a check."""
    pk = next(iter(table.primary_key.columns))

    def matching(window) -> Select | None:
        condition = check(window)
        return None if condition is None else (select(window.c[pk.name].label("pk"))
                                               .where(for_rows(condition)).limit(limit))

    theirs = _theirs(table, columns, scope)
    mine = _window(theirs, 0, PROBE_ROWS, "mine")
    probe = matching(mine)
    if probe is None:
        return None
    probe = probe.cte("probe")
    found = func.count()
    rows = select(case((found >= WIDEN_AT, func.least(WIDER_MAX, cast(
        (limit - found) * PROBE_ROWS * MARGIN / func.greatest(found, 1), Integer))), else_=0)
    ).select_from(probe).scalar_subquery()
    more = _window(theirs, PROBE_ROWS, rows, "more_of_mine")
    widened = matching(more).cte("widened")  # after the first window's rows, none of them
    parts = [select(window_matches.c.pk) for window_matches in (probe, widened)]
    excluded = [pk.not_in(select(window_matches.c.pk)) for window_matches in (probe, widened)]
    # the lookups run while the user has rows the windows did not read: a window shorter than
    # asked read the last of them, and the indexes would have none to add
    unread = [select(func.count()).select_from(mine).scalar_subquery() >= PROBE_ROWS,
              or_(rows == 0, select(func.count()).select_from(more).scalar_subquery() >= rows)]
    return parts, excluded, unread


def _lookup_parts(table, lookups: Sequence[ColumnElement | Sequence[ColumnElement]], limit: int,
                  scope: ColumnElement, probed: list[ColumnElement]) -> list[Select]:
    """Each lookup within the user's rows (`scope`), without the rows found before it (`probed`, the earlier ones')."""
    pk = next(iter(table.primary_key.columns))
    conditions = [lookup if isinstance(lookup, ColumnElement) else or_(*lookup) for lookup in lookups]
    parts = []
    for i, lookup in enumerate(lookups):
        earlier = [not_(func.coalesce(e, false())) for e in conditions[:i]]
        part = select(pk.label("pk")).where(conditions[i], scope, *probed, *earlier)
        if not isinstance(lookup, ColumnElement) and len(lookup) > 1:
            part = part.order_by(*_in_turn(table, lookup))
        parts.append(part.limit(limit))
    return parts


def _found(parts: list[Select], limit: int) -> Select | None:
    if not parts:
        return None
    found = union_all(*parts).subquery("found") if len(parts) > 1 else parts[0].subquery("found")
    return select(found.c.pk).limit(limit)


def own_then_indexed(table, columns: list, check: Callable[[Subquery], ColumnElement | None],
                     lookups: Sequence[ColumnElement | Sequence[ColumnElement]], limit: int) -> Select | None:
    """Keys of up to `limit` of the user's rows: those the windows of their rows hold, then the indexes' (within theirs).

    As app/lists/matches.py's `newest_then_indexed`, with windows of the user's rows instead of the
    table's newest: PROBE_ROWS of them checked row by row (`check`), and more when the probe held
    WIDEN_AT matches (a term that common costs hundreds of milliseconds through the search index,
    whose bitmap holds a hundred thousand entries or more: read row by row the user's rows hold
    their hundred sooner); then each lookup narrowed to the user's rows, which the planner
    intersects with the scope's index before reading a row. A part runs only while the LIMIT wants
    rows, and the lookups not at all when the windows read every one of the user's rows.

    A lookup given as several conditions is one scan of their ORed indexes, its rows in the order the
    conditions' own lookups in turn would have found them (`_in_turn`): the scope's index is read into
    a bitmap once instead of once per condition (rep22's 33,021 activities: ~10,000 buffers each at
    scale 1), and its literal keys planned once. It reads all of its matches before the LIMIT takes
    the first: usually few, as the lookups run for a term the first window found rare.
    """
    scope = in_scope(table)
    if scope is None:
        return None
    windows = _windows(table, columns, check, limit, scope)
    parts, probed = ([], []) if windows is None else (windows[0], windows[1] + windows[2])
    return _found(parts + _lookup_parts(table, lookups, limit, scope, probed), limit)


FOUND = "search_found"  # bound parameter: the keys own_windows found (the second step of a two-step search)


def own_windows(table, columns: list, check: Callable[[Subquery], ColumnElement | None],
                limit: int) -> tuple[Select, ColumnElement] | None:
    """own_then_indexed's first step: keys of up to `limit` rows the windows of the user's rows hold, and
    whether the lookups would run after them (the user has rows the windows did not read); None without a
    window or scope.

    Each part of a statement that names the user's keys plans them anew (~1.5 ms per copy for a rep's 3,467
    customers at scale 1), and the lookups are planned even when the windows fill `limit`. Two steps: the
    windows, then `own_indexed` only when they found fewer than `limit` and the lookups would run. None for an
    owned table: its scope is a few owners' keys, cheap to plan, and a second statement costs more than that.
    """
    scope = in_scope(table) if table.name in FOLLOWERS else None
    windows = None if scope is None else _windows(table, columns, check, limit, scope)
    if windows is None:
        return None
    parts, _excluded, unread = windows
    return _found(parts, limit), and_(*unread)


def own_indexed(table, lookups: Sequence[ColumnElement | Sequence[ColumnElement]], limit: int) -> Select | None:
    """own_then_indexed's second step: the keys own_windows found (FOUND), then the lookups' without them.

    The same keys as own_then_indexed's when own_windows found fewer than `limit` and said the lookups run."""
    scope = in_scope(table)
    if scope is None or not lookups:
        return None
    pk = next(iter(table.primary_key.columns))
    found = bindparam(FOUND, type_=ARRAY(pk.type), required=True)
    earlier = select(func.unnest(found).label("pk"))
    return _found([earlier, *_lookup_parts(table, lookups, limit, scope, [pk != all_(found)])], limit)


def ranked_windows(model, windows: tuple[Select, ColumnElement], relevance: ColumnElement, limit: int,
                   cap: int) -> Select:
    """The best `limit` of own_windows' rows (by `relevance`, then key), each with their number, all their keys
    and whether own_indexed is to follow (fewer than `cap` found, and the lookups would run).

    Always a row (the entity None when the windows found none): it tells whether the second step runs."""
    found, unread = windows
    pk = next(iter(model.__table__.primary_key.columns))
    candidates = found.cte("candidates")
    counted = select(func.count().label("total"), func.array_agg(candidates.c.pk).label("found_keys")
                     ).select_from(candidates).subquery("counted")
    # CASE: the windows' rows are counted only when the LIMIT did not stop them (it would read them all)
    more = case((counted.c.total >= cap, false()), else_=unread).label("more")
    return (select(model, relevance, counted.c.total, counted.c.found_keys, more).select_from(counted)
            .outerjoin(candidates, true()).outerjoin(model, pk == candidates.c.pk)
            .order_by(relevance.desc(), pk.desc()).limit(limit))


WINDOWS, INDEXED = "windows", "indexed"  # the two steps' statements (ranked_windows, own_indexed's)


def in_steps(session: Session, statement: Callable[[bool | str], Select | None], params: dict,
             scoped: bool) -> list[Row]:
    """The rows of `statement(scoped)`; a scoped contact's or activity's in two steps when `statement(WINDOWS)` is
    one: then `statement(INDEXED)`, with the windows' keys, only when they found too few and the lookups run.

    own_then_indexed names the user's keys once in the windows and once per lookup, and the planner plans
    each copy (~1.5 ms for rep22's 3,467 customers at scale 1) whether or not the lookups run: rep22's
    activities were planned in ~8.7 ms for every term, the lookups running for 4 of the 12 bench terms.
    """
    windows = statement(WINDOWS) if scoped else None
    if windows is not None:
        rows = session.execute(windows, params).all()
        if not rows[0][4]:  # the windows' rows are all the candidates
            return [row for row in rows if row[0] is not None]
        params = {**params, FOUND: rows[0][3] or []}
    one = statement(INDEXED if windows is not None else scoped)
    return [] if one is None else session.execute(one, params).all()
