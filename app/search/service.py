"""CRM-wide search: every indexed entity, ranked, highlighted, grouped by entity.

Per entity, the index-backed lookups (substring, then words) find the newest
CANDIDATES matches, in key order, so a frequent term stops early and a rare one
is a few index entries; those candidates are ranked (title starts with the
query, contains it, trigram word similarity) and the best PER_ENTITY returned. Ranking only a bounded set keeps a
query that matches millions of activities as fast as one that matches ten:
such a query is shown as "100+" with a link to the full, filtered list.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from markupsafe import Markup
from psycopg.errors import QueryCanceled
from sqlalchemy import Float, Select, case, cast, func, literal, or_, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.screens import label_for, route_of
from app.search.conditions import contains, matches_words, starts_word
from app.search.fields import INDEXED_MODELS, substring_columns, word_columns
from app.search.highlight import highlight, terms_pattern
from app.search.text import is_cjk, like_pattern, needs_word_index, normalize, prefix_query

CANDIDATES = 100
PER_ENTITY = 10
DETAIL_FIELDS = 3
# A safety net, far above the normal tens of milliseconds: an entity whose lookup is
# stopped is reported as such, the other entities' results are still shown.
SEARCH_TIMEOUT_MS = 3000


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
    """The conditions whose newest matches are the candidates, each served by one kind of index.

    Substring (pg_trgm, ILIKE) and words (tsvector, stemming) are separate lookups: in a
    row-by-row check (a frequent term, read newest first) an OR of both would compute the
    text-search vector of every row that lacks the substring, which is the expensive part.
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


def condition(entity: Entity, query: str) -> ColumnElement | None:
    """Rows of `entity` matching `query` in any searchable column (for list links and EXPLAIN)."""
    found = lookups(entity, query)
    return or_(*found) if found else None


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


def newest(entity: Entity, where: ColumnElement) -> Select:
    """Keys of the newest CANDIDATES rows matching `where`.

    Newest first is an order the primary key delivers: for a frequent term the planner
    reads the key index backwards and stops at CANDIDATES matches (the statistics of the
    indexed expressions tell it the term is frequent); for a rare one it takes the search
    index and sorts the few matches. No lookup builds or ranks the full set of a term that
    matches millions of rows.
    """
    return select(entity.pk.label("pk")).where(where).order_by(entity.pk.desc()).limit(CANDIDATES)


def candidates(session: Session, entity: Entity, query: str) -> list[int]:
    """Keys of up to CANDIDATES matching rows: the newest of each lookup, cheapest lookup first.

    The word lookup runs only when the substrings found fewer than CANDIDATES rows, so a
    frequent term never computes a text-search vector row by row.
    """
    found: list[int] = []
    for where in lookups(entity, query):
        stmt = newest(entity, where)
        if found:
            stmt = stmt.where(entity.pk.not_in(found))
        found += session.scalars(stmt.limit(CANDIDATES - len(found))).all()
        if len(found) >= CANDIDATES:
            break
    return found


def ranked(entity: Entity, query: str, keys: list[int], limit: int = PER_ENTITY) -> Select:
    """The best `limit` of the candidate rows, with their score."""
    relevance = score(entity, query).label("score")
    return (select(entity.model, relevance).where(entity.pk.in_(keys))
            .order_by(relevance.desc(), entity.pk.desc()).limit(limit))


def search_entity(session: Session, entity: Entity, query: str, limit: int = PER_ENTITY) -> tuple[list, int]:
    """(rows as (object, score), number of matches capped at CANDIDATES) for one entity."""
    keys = candidates(session, entity, query)
    if not keys:
        return [], 0
    return [(r[0], r[1]) for r in session.execute(ranked(entity, query, keys, limit)).all()], len(keys)


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
            details.append((label_for(name), marked))
    return Hit(url=f"{entity.route}/show/{pk_value}", title=highlight(str(item), pattern),
               details=details[:DETAIL_FIELDS], score=float(relevance or 0))


def _timeout(session: Session, ms: int | str) -> str:
    """Set this transaction's statement_timeout; returns the one in force before."""
    return session.execute(text("SELECT current_setting('statement_timeout'), "
                                "set_config('statement_timeout', :ms, true)"), {"ms": str(ms)}).scalar_one()


def _cancelled(error: OperationalError) -> bool:
    return isinstance(error.orig, QueryCanceled)


def search(session: Session, raw_query: str | None, entities: Iterable[Entity] = ENTITIES,
           limit: int = PER_ENTITY) -> list[EntityResults]:
    """Results per entity (those with matches or stopped by the timeout), best first within each."""
    query = normalize(raw_query)
    if not query:
        return []
    if not any(ch.isalnum() for ch in query):
        raise QueryError("Type some letters, digits or characters to search for.")
    pattern = terms_pattern(query, query_stems(session, query))
    results = []
    before = _timeout(session, SEARCH_TIMEOUT_MS)
    for entity in entities:
        try:
            rows, total = search_entity(session, entity, query, limit)
        except OperationalError as error:
            if not _cancelled(error):
                raise
            session.rollback()  # the transaction is aborted; the next entity starts a new one
            results.append(EntityResults(entity, timed_out=True))
            before = _timeout(session, SEARCH_TIMEOUT_MS)
            continue
        if rows:
            results.append(EntityResults(entity, [to_hit(entity, item, s, pattern) for item, s in rows], total))
    _timeout(session, before)
    return results
