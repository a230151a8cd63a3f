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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterable

from flask import Flask, current_app
from markupsafe import Markup
from psycopg.errors import QueryCanceled
from sqlalchemy import Float, Select, and_, case, cast, false, func, literal, not_, or_, select, text, union_all
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from flask_babel import gettext as _

from app.i18n.labels import column_label
from app.screens import label_for, route_of
from app.planner import INDEX_LOOKUP_SETTINGS, set_for_transaction
from app.search.conditions import contains, matches_words, starts_word
from app.search.fields import INDEXED_MODELS, substring_columns, word_columns
from app.search.highlight import highlight, terms_pattern
from app.search.text import is_cjk, like_pattern, needs_word_index, normalize, prefix_query

CANDIDATES = 100
PROBE_ROWS = 2000  # newest rows checked row by row first: enough for a term in 5 % of the rows
LOOKUP_SETTINGS = INDEX_LOOKUP_SETTINGS  # for the index lookups (see candidates_statement)
PER_ENTITY = 10
DETAIL_FIELDS = 3
# A safety net, far above the normal tens of milliseconds: an entity whose lookup is
# stopped is reported as such, the other entities' results are still shown.
SEARCH_TIMEOUT_MS = 3000
# Groups of entities searched at once per request, each group on a pooled connection of its
# own (the pool has 5 + 5 per worker). Measured at scale 1 on 2 cores: 1 group 31 ms, 2 groups
# 26 ms, 3 groups 27 ms (median of the whole-CRM search for "renewal"); more only adds sessions.
SEARCH_THREADS = 2


@dataclass(frozen=True)
class Entity:
    model: type
    label: str
    route: str

    @property
    def table(self):
        return self.model.__table__

    @property
    def pk(self):
        return list(self.table.primary_key.columns)[0]


ENTITIES: tuple[Entity, ...] = tuple(
    Entity(m, label_for(m.__tablename__), route_of(m.__tablename__)) for m in INDEXED_MODELS)


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


def _short_latin(query: str) -> bool:
    return needs_word_index(query) and not is_cjk(query)


def _words(entity: Entity, query: str, condition_of) -> ColumnElement | None:
    found = [condition_of(entity.table.c[name], query) for name in word_columns(entity.model)]
    return or_(*found) if found else None


def lookups(entity: Entity, query: str) -> list[ColumnElement]:
    """The index-backed conditions that find candidates, cheapest first, each served by one kind of index.

    Substring (pg_trgm, ILIKE) and words (tsvector, stemming) are separate lookups: the
    word lookup is only needed when the substrings found too few rows.
    """
    if _short_latin(query):
        # one or two letters/digits: words starting with them (ILIKE '%ab%' has no index)
        return [c for c in [_words(entity, query, starts_word)] if c is not None] if prefix_query(query) else []
    if needs_word_index(query):
        # one or two CJK characters: only the word-indexed columns have CJK indexes (an unindexed
        # OR branch, e.g. e-mail, would make the planner scan the table)
        return [c for c in [_words(entity, query, contains)] if c is not None]
    worded = word_columns(entity.model)
    substring = or_(*[contains(entity.table.c[name], query, name in worded)
                      for name in substring_columns(entity.model)])
    return [substring] + [c for c in [_words(entity, query, matches_words)] if c is not None]


def title_column(entity: Entity) -> str:
    return substring_columns(entity.model)[0]


def score(entity: Entity, query: str) -> ColumnElement:
    """Relevance of a candidate row, from its title column (name, subject...), the field people scan.

    Title starts with the query (2), contains it (1), trigram word similarity (0-1). Cheap on
    purpose: no text-search vector is recomputed for ranking.
    """
    title = entity.table.c[title_column(entity)]
    parts: list[ColumnElement] = [
        case((title.ilike(like_pattern(query)[1:], escape="\\"), 2.0), else_=0.0),
        case((title.ilike(like_pattern(query), escape="\\"), 1.0), else_=0.0)]
    if not needs_word_index(query):
        parts.append(func.coalesce(func.word_similarity(literal(query), title), 0))
    return cast(sum(parts[1:], parts[0]), Float)


def quick_check(entity: Entity, columns, query: str) -> ColumnElement | None:
    """Exact checks without any indexed expression, on `columns` (a table's or a subquery's)."""
    worded = word_columns(entity.model)
    if _short_latin(query):
        word = prefix_query(query).removesuffix(":*")
        found = [columns[c].op("~*")(literal(r"\m" + word)) for c in worded] if word else []
    elif needs_word_index(query):
        found = [func.strpos(columns[c], query) > 0 for c in worded]
    else:
        found = [contains(columns[c], query, False) for c in substring_columns(entity.model)]
    return or_(*found) if found else None


def _newest_window(entity: Entity):
    """The newest PROBE_ROWS rows' keys and searchable columns."""
    return select(entity.pk.label("pk"), *[entity.table.c[c] for c in substring_columns(entity.model)]
                  ).order_by(entity.pk.desc()).limit(PROBE_ROWS).subquery("newest")


def lookup_statement(entity: Entity, where: ColumnElement) -> Select:
    """Keys of up to CANDIDATES rows matching `where`, in no particular order (the index's)."""
    return select(entity.pk).where(where).limit(CANDIDATES)


def candidates_statement(entity: Entity, query: str) -> Select | None:
    """Keys of up to CANDIDATES matching rows, in one statement; None when nothing can match.

    First the newest PROBE_ROWS rows, checked with cheap exact conditions: a frequent term
    is done there. Then the search indexes, cheapest lookup first, each without the rows the
    previous parts found (their conditions, re-checked), so the parts never overlap. The parts are
    a UNION ALL under a LIMIT: PostgreSQL runs a part only while the LIMIT still wants
    rows, so the word lookup runs only when the substrings found too few, and no lookup
    reads matches beyond the CANDIDATES it needs. Sequential scans are off for these
    lookups (LOOKUP_SETTINGS): planner estimates for substrings are rough, and a scan that
    "soon finds" rows that are in fact rare reads the whole table.
    """
    window = _newest_window(entity)
    parts = []
    earlier: list[ColumnElement] = []  # conditions of the rows the previous parts found
    check = quick_check(entity, window.c, query)
    if check is not None:
        parts.append(select(window.c.pk).where(check).limit(CANDIDATES))
        # "+ 0": the key's index must not be the way in (a walk down the whole table); the
        # lookups come through the search indexes, the key only filters their rows
        in_window = (entity.pk + 0) >= select(func.min(window.c.pk)).scalar_subquery()
        earlier.append(and_(in_window, quick_check(entity, entity.table.c, query)))
    for where in lookups(entity, query):
        parts.append(lookup_statement(entity, where).where(*[not_(func.coalesce(e, false())) for e in earlier]))
        earlier.append(where)
    if not parts:
        return None
    found = union_all(*parts).subquery("found") if len(parts) > 1 else parts[0].subquery("found")
    return select(found.c[0].label("pk")).limit(CANDIDATES)


def entity_statement(entity: Entity, query: str, limit: int = PER_ENTITY) -> Select | None:
    """The best `limit` candidate rows, each with its score and the number of candidates."""
    found = candidates_statement(entity, query)
    if found is None:
        return None
    candidates = found.cte("candidates")
    total = select(func.count()).select_from(candidates).scalar_subquery().label("total")
    relevance = score(entity, query).label("score")
    return (select(entity.model, relevance, total).where(entity.pk.in_(select(candidates.c.pk)))
            .order_by(relevance.desc(), entity.pk.desc()).limit(limit))


def search_entity(session: Session, entity: Entity, query: str, limit: int = PER_ENTITY) -> tuple[list, int]:
    """(rows as (object, score), number of matches capped at CANDIDATES) for one entity: one statement.

    Run it with LOOKUP_SETTINGS in force (see _search_group).
    """
    statement = entity_statement(entity, query, limit)
    if statement is None:
        return [], 0
    rows = session.execute(statement).all()
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


def _search_group(session: Session, entities: list[Entity], query: str, limit: int) -> list[tuple[list, int, bool]]:
    """(rows as (object, score), total, stopped by the timeout) per entity, one after the other."""
    # timeout and lookup settings once for the transaction: the newest-rows probe and the
    # ranking read by primary key, which the lookup settings do not change
    wanted = {"statement_timeout": str(SEARCH_TIMEOUT_MS), **LOOKUP_SETTINGS}
    before = set_for_transaction(session, wanted)
    outcomes = []
    for entity in entities:
        try:
            rows, total = search_entity(session, entity, query, limit)
            for item, _score in rows:  # detached as loaded: a later rollback must not expire them
                session.expunge(item)
            outcomes.append((rows, total, False))
        except OperationalError as error:
            if not _cancelled(error):
                raise
            session.rollback()  # the transaction is aborted; the next entity starts a new one
            before = set_for_transaction(session, wanted)
            outcomes.append(([], 0, True))
    set_for_transaction(session, before)  # normal planning and timeout for the rest of the transaction
    return outcomes


def _group_in_own_session(app: Flask, bind, entities: list[Entity], query: str,
                          limit: int) -> list[tuple[list, int, bool]]:
    with app.app_context(), Session(bind=bind) as own:  # app context: loading decrypts with the app's keys
        return _search_group(own, entities, query, limit)  # closing expunges the rows: they stay loaded


def search(session: Session, raw_query: str | None, entities: Iterable[Entity] = ENTITIES,
           limit: int = PER_ENTITY) -> list[EntityResults]:
    """Results per entity (those with matches or stopped by the timeout), best first within each.

    The entities are searched in SEARCH_THREADS groups at once, the first on the request's
    connection, each other on a pooled connection of its own: the database works on two
    entities at a time while Python prepares or reads a third.
    """
    query = normalize(raw_query)
    if not query:
        return []
    if not any(ch.isalnum() for ch in query):
        raise QueryError(_("Type some letters, digits or characters to search for."))
    pattern = terms_pattern(query, query_stems(session, query))
    entities = list(entities)
    threads = max(1, min(SEARCH_THREADS, len(entities)))
    if threads == 1:
        outcomes = _search_group(session, entities, query, limit)
    else:
        app, bind = current_app._get_current_object(), session.get_bind()
        groups = [entities[i::threads] for i in range(threads)]
        # the first group in this thread, on the request's own connection; the others beside it
        with ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="search") as pool:
            others = [pool.submit(_group_in_own_session, app, bind, group, query, limit) for group in groups[1:]]
            done = [_search_group(session, groups[0], query, limit)] + [f.result() for f in others]
        found = {id(e): outcome for group, outcomes in zip(groups, done) for e, outcome in zip(group, outcomes)}
        outcomes = [found[id(e)] for e in entities]
    results = []
    for entity, (rows, total, stopped) in zip(entities, outcomes):
        if stopped:
            results.append(EntityResults(entity, timed_out=True))
        elif rows:
            results.append(EntityResults(entity, [to_hit(entity, item, s, pattern) for item, s in rows], total))
    return results
