"""The CRM-wide search's entities and their conditions: the index-backed lookups, the checks of a window of
rows read one by one, and the score that ranks the candidates (app/search/service.py)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Float, case, cast, func, or_
from sqlalchemy.sql.elements import ColumnElement

from app.models.searchable import long_text_columns, substring_columns, title_columns, word_columns
from app.search.conditions import Terms, contains, holds, matches_words, starts_word, word_starts_with


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per table
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


def column_groups(entity: Entity) -> list[tuple[str, ...]]:
    """The searchable columns in the order they are looked up in: the title columns, then the long texts."""
    return [group for group in (title_columns(entity.model), long_text_columns(entity.model)) if group]


def _per_group(entity: Entity, condition, words_only: bool = True) -> list[ColumnElement]:
    """`condition(column, has_word_index)` ORed over each column group; groups with no such column left out."""
    worded = word_columns(entity.model)
    found = []
    for group in column_groups(entity):
        conditions = [condition(entity.table.c[name], name in worded)
                      for name in group if name in worded or not words_only]
        if conditions:
            found.append(or_(*conditions))
    return found


def lookups(entity: Entity, terms: Terms) -> list[ColumnElement]:
    """The index-backed conditions that find candidates, cheapest first (`lookup_kinds`, in turn)."""
    return [lookup for kind in lookup_kinds(entity, terms) for lookup in kind]


def lookup_kinds(entity: Entity, terms: Terms) -> list[list[ColumnElement]]:
    """The lookups per kind of index, cheapest first: within a kind, the title columns' then the long texts'.

    Substring (pg_trgm, ILIKE) and words (tsvector, stemming) are separate lookups: the
    word lookup is only needed when the substrings found too few rows. Each is looked up in
    the title columns first, then in the long texts: a title match ranks higher, and a term
    found often enough in subjects never reads the (larger) descriptions' index.
    """
    if terms.short_latin:
        # one or two letters/digits: words starting with them (ILIKE '%ab%' has no index)
        return [_per_group(entity, lambda column, _: starts_word(column, terms))] if terms.has_prefix else []
    if terms.short:
        # one or two CJK characters: only the word-indexed columns have CJK indexes (an unindexed
        # OR branch, e.g. e-mail, would make the planner scan the table)
        return [_per_group(entity, lambda column, _: contains(column, terms))]
    return [_per_group(entity, lambda column, worded: contains(column, terms, worded), words_only=False),
            _per_group(entity, lambda column, _: matches_words(column, terms))]


def scoped_lookups(entity: Entity, terms: Terms) -> list[ColumnElement | tuple[ColumnElement, ...]]:
    """`lookups` for own_then_indexed: the word (and CJK) lookups of the title columns and the long texts as one.

    Each lookup within a scoped user's rows intersects its index with theirs, a bitmap of their
    thousands of customers' keys (rep22's activities at scale 1: ~10,000 buffers, and ~2 ms to plan
    the keys): one scan for both groups reads and plans it once, and finds the same rows. The
    substring (trigram) lookups stay apart: their estimates are rough, and each alone is often
    planned without the user's bitmap (a few matches in the whole table, checked one by one), where
    their OR costs more than the user's bitmap and the planner reads that first, for every term.
    """
    kinds = lookup_kinds(entity, terms)
    trigrams = kinds.pop(0) if kinds and not terms.short else []
    return [*trigrams, *(tuple(kind) for kind in kinds if kind)]


def title_column(entity: Entity) -> str:
    return substring_columns(entity.model)[0]


def score(entity: Entity, terms: Terms) -> ColumnElement:
    """Relevance of a candidate row, from its title column (name, subject...), the field people scan.

    Title starts with the query (2), contains it (1), trigram word similarity (0-1). Cheap on
    purpose: no text-search vector is recomputed for ranking.
    """
    title = entity.table.c[title_column(entity)]
    parts: list[ColumnElement] = [
        case((title.ilike(terms.bind("starts"), escape="\\"), 2.0), else_=0.0),
        case((title.ilike(terms.bind("like"), escape="\\"), 1.0), else_=0.0)]
    if not terms.short:
        parts.append(func.coalesce(func.word_similarity(terms.bind("text"), title), 0))
    return cast(sum(parts[1:], parts[0]), Float)


def quick_check(entity: Entity, columns, terms: Terms) -> ColumnElement | None:
    """Exact checks without any indexed expression, on a newest-rows window's `columns` (read row by row)."""
    worded = word_columns(entity.model)
    if terms.short_latin:
        found = [word_starts_with(columns[c], terms) for c in worded] if terms.has_prefix else []
    elif terms.short:
        found = [holds(columns[c], terms) for c in worded]
    else:
        found = [contains(columns[c], terms, False) for c in substring_columns(entity.model)]
    return or_(*found) if found else None
