"""A list's quick search (`?q=`): every word of the query in one of the list's text columns, through their indexes.

Django admin's one search box: "acme ltd" finds rows where each word is in some searched
column. Each word is the same indexed condition as the list's "Contains" filter
(app/search/conditions.py): three or more characters by the trigram index, one or two CJK
characters by the bigram or word index, one or two letters as the start of a word by the
word index. A column without such an index is never searched by substring (no sequential
scan): lists whose tables have none name columns matched exactly (`exact`), or documented
values matched by their label (`labels`). Small tables (users, roles: a few hundred rows at most)
name the columns read by plain ILIKE (`scanned`).
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import and_, false, inspect, or_
from sqlalchemy.sql.elements import ColumnElement

from app.models.searchable import INDEXED_MODELS, substring_columns, word_columns
from app.search.conditions import Terms, contains, indexed_any
from app.search.filters import FilterContains
from app.search.text import like_pattern, normalize

MAX_WORDS = 5  # more words only narrow further; each is one more index lookup
ARG = "q"


def searchable(model: type, columns: tuple[str, ...]) -> tuple[str, ...]:
    """Those of `columns` whose substring an index serves (the search-indexed tables' text columns)."""
    if model not in INDEXED_MODELS:
        return ()
    indexed = substring_columns(model)
    return tuple(c for c in columns if c in indexed)


def _word_condition(model: type, word: str, columns: tuple[str, ...], exact: tuple[str, ...],
                    labels: Mapping[str, Mapping[str, str]], scanned: tuple[str, ...] = ()) -> ColumnElement:
    terms = Terms(word)
    table = inspect(model).local_table
    worded = word_columns(model) if model in INDEXED_MODELS else ()
    lowered = word.casefold()
    labelled = {name: [v for v, label in by_value.items()
                       if lowered in str(label).casefold() or lowered in v.casefold()]
                for name, by_value in labels.items()}
    others: list[ColumnElement] = [table.c[name] == word for name in exact]
    others += [table.c[name].in_(values) for name, values in labelled.items() if values]
    others += [table.c[name].ilike(like_pattern(word), escape="\\") for name in scanned]
    if terms.short:
        # one or two characters: (word or bigram index) AND (exact check), each an OR over the columns and
        # `others`. Only the word-indexed columns have the CJK indexes; one or two letters are looked up as
        # the start of a word (ILIKE '%ab%' has no index), and only with letters or digits to look up
        split = indexed_any([table.c[name] for name in columns if name in worded], terms, others)
        if split is not None:
            return split
        return or_(*others) if others else false()
    found = [contains(table.c[name], terms, name in worded) for name in columns] + others
    return or_(*found) if found else false()


def quick_condition(model: type, query: str | None, columns: tuple[str, ...], exact: tuple[str, ...] = (),
                    labels: Mapping[str, Mapping[str, str]] | None = None,
                    scanned: tuple[str, ...] = ()) -> ColumnElement | None:
    """Rows holding every word of `query` in one of `columns` (or `exact`, `labels`, `scanned`);
    None for an empty query."""
    words = normalize(query).split()[:MAX_WORDS]
    if not words:
        return None
    return and_(*[_word_condition(model, w, columns, exact, labels or {}, scanned) for w in words])


class QuickSearchFilter(FilterContains):
    """The quick search as one of the list's filters: a "contains" filter, so the list reads its matches
    through the index first and pages by them (CrmInterface.search_matches)."""

    name = lazy_gettext("Search")
    arg_name = ARG
    scanned: tuple[str, ...] = ()  # `scanning(columns)`: a class FAB can rebuild from (column, datamodel)

    def __init__(self, column_name: str, datamodel: Any, columns: tuple[str, ...] = (), exact: tuple[str, ...] = (),
                 labels: Mapping[str, Mapping[str, str]] | None = None) -> None:
        super().__init__(column_name, datamodel)
        self.columns, self.exact, self.labels = columns, exact, labels or {}

    @staticmethod
    @cache
    def scanning(columns: tuple[str, ...]) -> type[QuickSearchFilter]:
        """The quick search over a small table's `columns` by plain ILIKE. FAB's own datamodel rebuilds a list's
        filters from their class (`get_inner_filters`), so the columns are the class's."""
        return type("ScanningSearchFilter", (QuickSearchFilter,), {"scanned": columns})

    def apply(self, query, value):
        condition = quick_condition(self.model, value, self.columns, self.exact, self.labels, self.scanned)
        return query if condition is None else query.filter(condition)
