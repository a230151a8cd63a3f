"""CRM-wide search: every indexed entity, ranked, highlighted, grouped by entity.

Per entity, the index conditions find up to CANDIDATES matching rows, which
are ranked (title starts with the query, trigram word similarity, text-search
rank) and the best PER_ENTITY returned. Ranking only a bounded set of
candidates keeps a query that matches half a million activities as fast as
one that matches ten: such a query is shown as "100+ matches" with a link to
the full, filtered list.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from markupsafe import Markup
from sqlalchemy import Float, case, cast, func, literal, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from flask_babel import gettext as _

from app.i18n.labels import column_label
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

CANDIDATES = 100
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


def conditions(entity: Entity, query: str) -> list[ColumnElement]:
    """Conditions for the rows of `entity` matching `query`, cheapest first, each served by indexes.

    Whole words (tsvector) come first: a frequent word fills the candidates from the word
    indexes alone, without building the far larger trigram bitmaps. Substrings (pg_trgm) are
    looked up only when the words found too few rows.
    """
    columns = entity.table.c
    words = word_columns(entity.model)
    if _short_latin(query):
        # one or two letters/digits: words starting with them (ILIKE '%ab%' has no index)
        return [or_(*[starts_word(columns[c], query) for c in words])] if prefix_query(query) else []
    if needs_word_index(query):
        # one or two CJK characters: only the word-indexed columns can answer (an e-mail or
        # phone column has no CJK index, and one unindexed OR branch would scan the table)
        return [or_(*[contains(columns[c], query) for c in words])]
    found = [or_(*[matches_words(columns[c], query) for c in words])] if words else []
    return found + [or_(*[contains(columns[c], query, c in words) for c in substring_columns(entity.model)])]


def condition(entity: Entity, query: str) -> ColumnElement | None:
    """All of `conditions` in one (for list links and EXPLAIN)."""
    found = conditions(entity, query)
    return or_(*found) if found else None


def score(entity: Entity, query: str) -> ColumnElement:
    """Relevance of a candidate row, from its title column (name, subject...), the field people scan.

    Title starts with the query (2), trigram word similarity (0-1), text-search rank. Matches in
    other columns only make a row a candidate: recomputing their vectors would cost more than
    the whole index lookup.
    """
    title = entity.table.c[substring_columns(entity.model)[0]]
    parts: list[ColumnElement] = [case((title.ilike(like_pattern(query)[1:], escape="\\"), 2.0), else_=0.0)]
    if not needs_word_index(query):
        parts.append(func.coalesce(func.word_similarity(literal(query), title), 0))
    if title.name in word_columns(entity.model):
        tsquery = prefix_tsquery(query) if _short_latin(query) else words_tsquery(query)
        parts.append(func.ts_rank(search_vector(title), tsquery))
    return cast(sum(parts[1:], parts[0]), Float)


def candidates(session: Session, entity: Entity, query: str) -> list[int]:
    """Primary keys of up to CANDIDATES matching rows, from the cheapest conditions first."""
    pk = entity.pk
    # The planner, seeing "many" matches, may prefer reading the table until it has found
    # CANDIDATES rows; every row read then recomputes the CJK/word vector. The indexes are
    # always the better plan here.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    found: list[int] = []
    for where in conditions(entity, query):
        stmt = select(pk).where(where)
        if found:
            stmt = stmt.where(pk.not_in(found))
        found += session.scalars(stmt.limit(CANDIDATES - len(found))).all()
        if len(found) >= CANDIDATES:
            break
    # back to normal planning for the rest of the transaction (an error rolls it back anyway)
    session.execute(text("RESET enable_seqscan"))
    return found


def search_entity(session: Session, entity: Entity, query: str, limit: int = PER_ENTITY) -> tuple[list, int]:
    """(rows as (object, score), number of candidates) for one entity."""
    keys = candidates(session, entity, query)
    if not keys:
        return [], 0
    pk = entity.pk
    relevance = score(entity, query).label("score")
    stmt = (select(entity.model, relevance).where(pk.in_(keys))
            .order_by(relevance.desc(), pk.desc()).limit(limit))
    return [(r[0], r[1]) for r in session.execute(stmt).all()], len(keys)


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


def search(session: Session, raw_query: str | None, entities: Iterable[Entity] = ENTITIES,
           limit: int = PER_ENTITY) -> list[EntityResults]:
    """Results per entity (those with matches), best first within each."""
    query = normalize(raw_query)
    if not query:
        return []
    if not any(ch.isalnum() for ch in query):
        raise QueryError(_("Type some letters, digits or characters to search for."))
    pattern = terms_pattern(query, query_stems(session, query))
    results = []
    for entity in entities:
        rows, total = search_entity(session, entity, query, limit)
        if rows:
            results.append(EntityResults(entity, [to_hit(entity, item, s, pattern) for item, s in rows], total))
    return results

