"""CRM-wide search: every indexed entity, ranked, highlighted, grouped by entity.

Per entity, the index conditions find up to CANDIDATES matching rows, which
are ranked (title starts with the query, trigram word similarity, text-search
rank) and the best PER_ENTITY returned. Ranking only a bounded set of
candidates keeps a query that matches half a million activities as fast as
one that matches ten: such a query is shown as "200+ matches" with a link to
the full, filtered list.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from markupsafe import Markup
from sqlalchemy import Float, case, cast, func, literal, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.screens import label_for, route_of
from app.search.conditions import (
    contains,
    matches_words,
    prefix_tsquery,
    search_vector,
    starts_word,
    words_tsquery,
)
from app.search.fields import INDEXED_MODELS, substring_columns, word_columns
from app.search.highlight import highlight, terms_pattern
from app.search.text import is_cjk, like_pattern, needs_word_index, normalize, prefix_query

CANDIDATES = 200
PER_ENTITY = 10
DETAIL_FIELDS = 3


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

    @property
    def more(self) -> bool:
        return self.total >= CANDIDATES


class QueryError(ValueError):
    """The query cannot be searched (the message says why, for the user)."""


def _short_latin(query: str) -> bool:
    return needs_word_index(query) and not is_cjk(query)


def condition(entity: Entity, query: str) -> ColumnElement | None:
    """Rows of `entity` matching `query`, in terms the search indexes serve."""
    columns = entity.table.c
    words = word_columns(entity.model)
    if _short_latin(query):
        # one or two letters/digits: words starting with them (ILIKE '%ab%' has no index)
        return or_(*[starts_word(columns[c], query) for c in words]) if prefix_query(query) else None
    if needs_word_index(query):
        # one or two CJK characters: only the word-indexed columns can answer (an e-mail or
        # phone column has no CJK index, and one unindexed OR branch would scan the table)
        return or_(*[contains(columns[c], query) for c in words])
    return or_(*[contains(columns[c], query, c in words) for c in substring_columns(entity.model)],
               *[matches_words(columns[c], query) for c in words])


def score(entity: Entity, query: str) -> ColumnElement:
    """Relevance of a candidate row: title prefix, trigram similarity, text-search rank."""
    columns = entity.table.c
    names = substring_columns(entity.model)
    title = columns[names[0]]
    tsquery = prefix_tsquery(query) if _short_latin(query) else words_tsquery(query)
    parts: list[ColumnElement] = [
        case((title.ilike(like_pattern(query)[1:], escape="\\"), 2.0), else_=0.0)]
    if not needs_word_index(query):
        parts += [func.coalesce(func.word_similarity(literal(query), columns[c]), 0) * (1.0 if i == 0 else 0.5)
                  for i, c in enumerate(names)]
    parts += [func.ts_rank(search_vector(columns[c]), tsquery) for c in word_columns(entity.model)]
    return cast(sum(parts[1:], parts[0]), Float)


def search_entity(session: Session, entity: Entity, query: str, limit: int = PER_ENTITY) -> tuple[list, int]:
    """(rows as (object, score), number of candidates) for one entity."""
    where = condition(entity, query)
    if where is None:
        return [], 0
    pk = entity.pk
    candidates = select(pk.label("pk")).where(where).limit(CANDIDATES).subquery()
    relevance = score(entity, query).label("score")
    stmt = (select(entity.model, relevance, func.count().over().label("total"))
            .join(candidates, pk == candidates.c.pk)
            .order_by(relevance.desc(), pk.desc()).limit(limit))
    rows = session.execute(stmt).all()
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
            details.append((label_for(name), marked))
    return Hit(url=f"{entity.route}/show/{pk_value}", title=highlight(str(item), pattern),
               details=details[:DETAIL_FIELDS], score=float(relevance or 0))


def search(session: Session, raw_query: str | None, entities: Iterable[Entity] = ENTITIES,
           limit: int = PER_ENTITY) -> list[EntityResults]:
    """Results per entity (those with matches), best first within each."""
    query = normalize(raw_query)
    if not query:
        return []
    if not any(ch.isalnum() for ch in query):
        raise QueryError("Type some letters, digits or characters to search for.")
    pattern = terms_pattern(query, query_stems(session, query))
    results = []
    for entity in entities:
        rows, total = search_entity(session, entity, query, limit)
        if rows:
            results.append(EntityResults(entity, [to_hit(entity, item, s, pattern) for item, s in rows], total))
    return results

