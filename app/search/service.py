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

from dataclasses import dataclass, field
from typing import Iterable

from markupsafe import Markup
from psycopg.errors import QueryCanceled
from sqlalchemy import Float, Select, case, cast, func, literal, or_, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from flask_babel import gettext as _

from app.i18n.labels import column_label
from app.screens import label_for, route_of
from app.search.conditions import contains, matches_words, starts_word
from app.search.fields import INDEXED_MODELS, substring_columns, word_columns
from app.search.highlight import highlight, terms_pattern
from app.search.text import is_cjk, like_pattern, needs_word_index, normalize, prefix_query

CANDIDATES = 100
PROBE_ROWS = 2000  # newest rows checked row by row first: enough for a term in 5 % of the rows
# For the index lookups: no sequential scan (see candidates); memory enough that the
# bitmap of a common character stays exact (a lossy one re-checks whole pages by
# recomputing vectors); no parallel workers for a query that stops at 100 rows.
LOOKUP_SETTINGS = {"enable_seqscan": "off", "work_mem": "32MB", "max_parallel_workers_per_gather": "0"}
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


def newest_matches(session: Session, entity: Entity, query: str) -> list[int]:
    """Matches among the newest PROBE_ROWS rows: a bounded read that fills the candidates of a frequent term."""
    window = select(entity.pk.label("pk"), *[entity.table.c[c] for c in substring_columns(entity.model)]
                    ).order_by(entity.pk.desc()).limit(PROBE_ROWS).subquery("newest")
    check = quick_check(entity, window.c, query)
    if check is None:
        return []
    return session.scalars(select(window.c.pk).where(check).limit(CANDIDATES)).all()


def lookup_statement(entity: Entity, where: ColumnElement) -> Select:
    """Keys of up to CANDIDATES rows matching `where`, in no particular order (the index's)."""
    return select(entity.pk).where(where).limit(CANDIDATES)


def candidates(session: Session, entity: Entity, query: str) -> list[int]:
    """Keys of up to CANDIDATES matching rows.

    First the newest PROBE_ROWS rows are checked with cheap exact conditions: a frequent
    term is done there. Otherwise the search indexes, cheapest lookup first, stopped at
    CANDIDATES rows: a rare term is a few index entries, and no lookup reads matches
    beyond the CANDIDATES it needs. The word lookup runs only when the substrings found
    too few rows. Sequential scans are off for these lookups (LOOKUP_SETTINGS): planner
    estimates for substrings are rough, and a scan that "soon finds" rows that are in
    fact rare reads the whole table.
    """
    found = newest_matches(session, entity, query)
    if len(found) >= CANDIDATES:
        return found
    before = _settings(session, LOOKUP_SETTINGS)
    for where in lookups(entity, query):
        stmt = lookup_statement(entity, where)
        if found:
            stmt = stmt.where(entity.pk.not_in(found))
        found += session.scalars(stmt.limit(CANDIDATES - len(found))).all()
        if len(found) >= CANDIDATES:
            break
    _settings(session, before)  # normal planning for the rest of the transaction
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
            details.append((column_label(entity.model.__tablename__, name), marked))
    return Hit(url=f"{entity.route}/show/{pk_value}", title=highlight(str(item), pattern),
               details=details[:DETAIL_FIELDS], score=float(relevance or 0))


def _settings(session: Session, values: dict[str, str]) -> dict[str, str]:
    """Set these settings for the rest of the transaction; returns the ones in force before."""
    names = list(values)
    columns = ", ".join(f"current_setting(:n{i}), set_config(:n{i}, :v{i}, true)" for i in range(len(names)))
    params = {**{f"n{i}": n for i, n in enumerate(names)}, **{f"v{i}": values[n] for i, n in enumerate(names)}}
    row = session.execute(text(f"SELECT {columns}"), params).one()
    return {name: row[2 * i] for i, name in enumerate(names)}


def _timeout(session: Session, ms: int | str) -> str:
    """Set this transaction's statement_timeout; returns the one in force before."""
    return _settings(session, {"statement_timeout": str(ms)})["statement_timeout"]


def _cancelled(error: OperationalError) -> bool:
    return isinstance(error.orig, QueryCanceled)


def search(session: Session, raw_query: str | None, entities: Iterable[Entity] = ENTITIES,
           limit: int = PER_ENTITY) -> list[EntityResults]:
    """Results per entity (those with matches or stopped by the timeout), best first within each."""
    query = normalize(raw_query)
    if not query:
        return []
    if not any(ch.isalnum() for ch in query):
        raise QueryError(_("Type some letters, digits or characters to search for."))
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
