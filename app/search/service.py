"""CRM-wide search: every indexed entity, ranked, highlighted, grouped by entity.

Per entity, a frequent term finds CANDIDATES matches among the newest rows, a
rarer one through the search indexes (substring, then words), stopped at
CANDIDATES rows; those candidates are ranked (title starts with the query,
contains it, trigram word similarity) and the best PER_ENTITY returned. Ranking
only a bounded set keeps a query that matches millions of activities as fast as
one that matches ten: such a query is shown as "100+" with a link to the full,
filtered list.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

from flask import Flask, current_app
from markupsafe import Markup
from psycopg.errors import QueryCanceled
from sqlalchemy import Select, case, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from flask_babel import gettext as _

from app.audit.context import acting_as, current_actor
from app.fields.derived import on_columns_changed
from app.i18n.labels import column_label
from app.crud.derive import label_for, route_of
from app.lists.matches import newest_then_indexed
from app.lists.planner import INDEX_LOOKUP_SETTINGS, set_for_transaction
from app.search.conditions import Terms
from app.models.searchable import INDEXED_MODELS, substring_columns
from app.search.highlight import highlight, terms_pattern
from app.search.lookups import Entity, lookups, quick_check, score, scoped_lookups
from app.search.scoped import (INDEXED, WINDOWS, in_steps, own_indexed, own_then_indexed, own_windows, ranked_windows,
                               search_scope)
from app.search.text import normalize

CANDIDATES = 100
WIDEN_AT = 15  # matches among them from which the next WIDER_ROWS are read too (0.75 %: ~11,000 rows for 100)
WIDER_ROWS = 18000
PER_ENTITY = 10
DETAIL_FIELDS = 3
# A safety net, far above the normal tens of milliseconds: an entity whose lookup is
# stopped is reported as such, the other entities' results are still shown.
SEARCH_TIMEOUT_MS = 3000
# Threads per request searching entities at once, each on a pooled connection of its own (the
# pool has 5 + 5 per worker). On 2 cores two beat one and a third only adds sessions
# (measurements: docs/performance.md).
SEARCH_THREADS = 2


ENTITIES: tuple[Entity, ...] = tuple(
    Entity(m, label_for(m.__tablename__), route_of(m.__tablename__)) for m in INDEXED_MODELS)
# The order the threads take the entities in: the slowest to search first (the most rows and
# the longest texts; measured at scale 1: docs/performance.md), so the last one taken is a quick one.
SLOWEST_FIRST = ("activities", "service_tickets", "contacts", "opportunities", "customers", "leads")


def _slowness(entity: Entity) -> int:
    name = entity.table.name
    return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)


@dataclass
class Hit:
    url: str
    title: Markup
    details: list[tuple[str, Markup]]
    score: float


@dataclass
class EntityResults:
    entity: Entity
    hits: list[Hit] = field(default_factory=list)
    total: int = 0  # matches found, capped at CANDIDATES
    timed_out: bool = False  # stopped by SEARCH_TIMEOUT_MS: no hits, the page says so

    @property
    def more(self) -> bool:
        return self.total >= CANDIDATES


class QueryError(ValueError):
    """The query cannot be searched (the message says why, for the user)."""


def lookup_statement(entity: Entity, where: ColumnElement) -> Select:
    """One lookup of candidates_statement alone: keys of up to CANDIDATES rows matching `where`, in the index's order."""
    return select(entity.pk).where(where).limit(CANDIDATES)


Scoped = bool | str  # narrowed to the user's rows (True), or one of in_steps' two statements (WINDOWS, INDEXED)


def candidates_statement(entity: Entity, terms: Terms, scoped: bool = False) -> Select | None:
    """Keys of up to CANDIDATES matching rows, in one statement; None when nothing can match.

    The lists' statement (app/lists/matches.py, `newest_then_indexed`): first the newest
    PROBE_ROWS rows, checked with cheap exact conditions: a frequent term is done there. When
    they hold WIDEN_AT matches or more (a term in about 1 % of the rows), the next WIDER_ROWS
    too: read in key order they find the rest sooner than an index, whose bitmap for such a
    term holds a hundred thousand rows or more. Then the search indexes, cheapest lookup first,
    each without the rows the previous parts found, so the parts never overlap. The parts are a
    UNION ALL under a LIMIT: PostgreSQL runs a part only while the LIMIT still wants rows, so the
    word lookup runs only when the substrings found too few, and no lookup reads matches beyond
    the CANDIDATES it needs. Sequential scans are off for these lookups (INDEX_LOOKUP_SETTINGS):
    planner estimates for substrings are rough, and a scan that "soon finds" rows that are in
    fact rare reads the whole table.

    `scoped`: for a user who sees only some owners' rows, the same parts within their rows
    (app/search/scoped.py): of the whole table's newest rows, theirs are a few per thousand.
    """
    if scoped:
        return own_then_indexed(entity.table, *_windows_of(entity, terms), scoped_lookups(entity, terms), CANDIDATES)
    return newest_then_indexed(entity.table, *_windows_of(entity, terms), lookups(entity, terms), CANDIDATES,
                               lambda found: case((found >= WIDEN_AT, WIDER_ROWS), else_=0))


def _windows_of(entity: Entity, terms: Terms) -> tuple[list, Callable]:
    """The columns a window of rows reads and its check (candidates_statement's `columns`, `check`)."""
    return ([entity.table.c[c] for c in substring_columns(entity.model)],
            lambda window: quick_check(entity, window.c, terms))


def entity_statement(entity: Entity, terms: Terms, limit: int = PER_ENTITY, scoped: Scoped = False) -> Select | None:
    """The best `limit` candidate rows, each with its score and the number of candidates (`scoped`: see there)."""
    relevance = score(entity, terms).label("score")
    if scoped == WINDOWS:  # in_steps' first: None when no lookup would follow the windows (one step), or no window
        windows = scoped_lookups(entity, terms) and own_windows(entity.table, *_windows_of(entity, terms), CANDIDATES)
        return ranked_windows(entity.model, windows, relevance, limit, CANDIDATES) if windows else None
    found = (own_indexed(entity.table, scoped_lookups(entity, terms), CANDIDATES) if scoped == INDEXED
             else candidates_statement(entity, terms, scoped))
    if found is None:
        return None
    candidates = found.cte("candidates")
    total = select(func.count()).select_from(candidates).scalar_subquery().label("total")
    return (select(entity.model, relevance, total).where(entity.pk.in_(select(candidates.c.pk)))
            .order_by(relevance.desc(), entity.pk.desc()).limit(limit))


_STATEMENTS: dict[tuple, Select | None] = {}  # (entity, query shape, limit): a few dozen at most


@on_columns_changed
def forget_statements() -> None:
    """Drop the shared statements: a table's searched columns changed (a custom field, app/fields/reflect.py)."""
    _STATEMENTS.clear()


def shared_statement(entity: Entity, terms: Terms, limit: int = PER_ENTITY, scoped: Scoped = False) -> Select | None:
    """entity_statement for any query of this shape, built once per process: run it with `terms.params()`.

    Building the statement costs about a millisecond of Python per entity, the statement
    itself a few of the database; built once, SQLAlchemy also keeps its cache key and SQL.
    """
    key = (entity, terms.shape(), limit, scoped)
    if key not in _STATEMENTS:  # two threads may both build it: the same statement, no harm
        _STATEMENTS[key] = entity_statement(entity, Terms(terms.query, shared=True), limit, scoped)
    return _STATEMENTS[key]


def search_entity(session: Session, entity: Entity, terms: Terms, limit: int = PER_ENTITY,
                  scope: dict[str, list[int] | str] | None = None) -> tuple[list, int]:
    """(rows as (object, score), number of matches capped at CANDIDATES) for one entity: one statement.

    `scope`: the search is narrowed to the user's rows (app/search/scoped.py, its parameters; a contact's or
    activity's in two steps, `in_steps`). Run it with INDEX_LOOKUP_SETTINGS in force (see _search_queue).
    """
    params = terms.params() if scope is None else {**terms.params(), **scope}
    rows = in_steps(session, lambda step: shared_statement(entity, terms, limit, step), params, scope is not None)
    return [(r[0], r[1]) for r in rows], (rows[0][2] if rows else 0)


def query_stems(session: Session, query: str) -> list[str]:
    """The English stems of the query's words (to highlight "renewal" for "renewals")."""
    return list(session.scalars(
        select(func.unnest(func.tsvector_to_array(func.to_tsvector(text("'english'::regconfig"), query))))))


def to_hit(entity: Entity, item: object, relevance: float, pattern) -> Hit:
    pk_value = getattr(item, entity.pk.key)
    details = []
    for name in substring_columns(entity.model)[1:]:
        marked = highlight(getattr(item, name), pattern, snippet=True)
        if marked is not None:
            details.append((column_label(entity.model.__tablename__, name), marked))
    return Hit(url=f"{entity.route}/show/{pk_value}", title=highlight(str(item), pattern),
               details=details[:DETAIL_FIELDS], score=float(relevance or 0))


def _cancelled(error: OperationalError) -> bool:
    return isinstance(error.orig, QueryCanceled)


Outcome = tuple[list, int, bool]  # rows as (object, score), total, stopped by the timeout


Scopes = dict[Entity, "dict[str, list[int] | str] | None"]  # per entity: search_scope (None: all rows)


def _search_queue(session: Session, todo: deque[Entity], terms: Terms, limit: int,
                  scopes: Scopes | Future[Scopes], restore: bool = True) -> dict[Entity, Outcome]:
    """Search the entities taken from `todo` one after the other until it is empty (shared with other threads).

    `scopes` still to come (another thread's queue): the session is set up first, while the request
    reads them. `restore`: the settings in force before are set again at the end (not needed where
    the transaction ends with the session).
    """
    # timeout and lookup settings once for the transaction: the newest-rows probe and the
    # ranking read by primary key, which the lookup settings do not change
    wanted = {"statement_timeout": str(SEARCH_TIMEOUT_MS), **INDEX_LOOKUP_SETTINGS}
    before: dict[str, str] | None = None  # set when the first entity is taken
    if isinstance(scopes, Future):
        before = set_for_transaction(session, wanted)
        scopes = scopes.result()
    outcomes: dict[Entity, Outcome] = {}
    while True:
        try:
            entity = todo.popleft()  # atomic: each entity is taken by one thread
        except IndexError:
            break
        before = before or set_for_transaction(session, wanted)
        try:
            rows, total = search_entity(session, entity, terms, limit, scopes.get(entity))
            for item, _score in rows:  # detached as loaded: a later rollback must not expire them
                session.expunge(item)
            outcomes[entity] = (rows, total, False)
        except Exception as error:
            if not (isinstance(error, OperationalError) and _cancelled(error)):
                todo.clear()  # the other thread takes no further entity: the request fails at once
                raise
            session.rollback()  # the transaction is aborted; the next entity starts a new one
            before = None
            outcomes[entity] = ([], 0, True)
    if before is not None and restore:
        set_for_transaction(session, before)  # normal planning and timeout for the rest of the transaction
    return outcomes


def _queue_in_own_session(app: Flask, bind, actor: tuple[str, str], todo: deque[Entity], terms: Terms,
                          limit: int, scopes: Future[Scopes]) -> dict[Entity, Outcome]:
    # app context: loading decrypts with the app's keys; the request's user: the rows it may see
    with app.app_context(), acting_as(actor), Session(bind=bind) as own:
        # closing expunges the rows (they stay loaded) and ends the transaction, its settings with it
        return _search_queue(own, todo, terms, limit, scopes, restore=False)


def _scopes(entities: list[Entity]) -> Scopes:
    """Each entity's search_scope, read in the request (its user and memo: the other threads have neither)."""
    with_activities = any(entity.table.name == "activities" for entity in entities)
    return {entity: search_scope(entity.table.name, with_activities) for entity in entities}


def search(session: Session, raw_query: str | None, entities: Iterable[Entity] = ENTITIES,
           limit: int = PER_ENTITY) -> list[EntityResults]:
    """Results per entity (those with matches or stopped by the timeout), best first within each.

    SEARCH_THREADS threads share the entities, the slowest to search taken first: the
    request's own (on its connection) and the others, each on a pooled connection of its
    own. The database works on two entities at a time, and a slow one (a common term in
    10M activities) overlaps with all the others instead of with its fixed share.
    """
    query = normalize(raw_query)
    if not query:
        return []
    if not any(ch.isalnum() for ch in query):
        raise QueryError(_("Type some letters, digits or characters to search for."))
    entities = list(entities)
    todo = deque(sorted(entities, key=_slowness))
    terms = Terms(query)
    threads = max(1, min(SEARCH_THREADS, len(entities)))
    if threads == 1:
        outcomes = _search_queue(session, todo, terms, limit, _scopes(entities))
        pattern = terms_pattern(query, query_stems(session, query))
    else:
        app, bind = current_app._get_current_object(), session.get_bind()
        ready: Future[Scopes] = Future()  # the scopes, read in the request: the other threads wait for them
        with ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="search") as pool:
            others = [pool.submit(_queue_in_own_session, app, bind, current_actor(), todo, terms, limit, ready)
                      for _ in range(threads - 1)]
            try:  # while the other threads open their sessions
                scopes = _scopes(entities)
            except BaseException as error:
                todo.clear()
                ready.set_exception(error)
                raise
            ready.set_result(scopes)
            outcomes = _search_queue(session, todo, terms, limit, scopes)
            # for the highlighting: asked once this thread's share is done, often before the others' ends
            pattern = terms_pattern(query, query_stems(session, query))
            for future in others:
                outcomes.update(future.result())
    results = []
    for entity in entities:
        rows, total, stopped = outcomes[entity]
        if stopped:
            results.append(EntityResults(entity, timed_out=True))
        elif rows:
            results.append(EntityResults(entity, [to_hit(entity, item, s, pattern) for item, s in rows], total))
    return results
