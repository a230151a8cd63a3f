"""List-screen filters backed by the search indexes: "Contains" (pg_trgm) and "Matches words" (tsvector).

They replace FAB's ILIKE "Contains" (same URL argument, `ct`, so links keep
working) and add "Matches words" (`mw`) on every text column; the derived
screens get them through CrmInterface's filter converter.
"""
from __future__ import annotations

from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla import filters as fab
from flask_babel import lazy_gettext

from app.search.conditions import Terms, contains, matches_words
from app.models.searchable import IDENTIFIER_COLUMNS, word_columns
from app.search.text import normalize
from app.lists.scope import FOLLOWERS
from app.security.my_records import FOLLOWER_FILTERS, OWNER, FilterOwnerTeam


class _SearchFilter(BaseFilter):
    def condition(self, field, query: str):
        raise NotImplementedError

    def apply(self, query, value):
        text = normalize(value)
        if not text:
            return query  # an empty search box filters nothing
        query, field = fab.get_field_setup_query(query, self.model, self.column_name)
        return query.filter(self.condition(field, text))


class FilterContains(_SearchFilter):
    name = lazy_gettext("Contains")
    arg_name = "ct"

    def condition(self, field, query: str):
        return contains(field, Terms(query), word_indexed=self.column_name in word_columns(self.model))


class FilterMatchesWords(_SearchFilter):
    name = lazy_gettext("Matches words")
    arg_name = "mw"

    def condition(self, field, query: str):
        return matches_words(field, Terms(query))


SEARCH_FILTERS = (FilterContains, FilterMatchesWords)  # served by GIN indexes (see CrmInterface.search_matches)
_REST = [fab.FilterStartsWith, fab.FilterEndsWith, fab.FilterEqual, fab.FilterNotStartsWith,
         fab.FilterNotEndsWith, fab.FilterNotContains, fab.FilterNotEqual, fab.FilterIn, fab.FilterNotIn]
TEXT_FILTERS = [FilterContains, FilterMatchesWords, *_REST]


class SearchFilterConverter(fab.SQLAFilterConverter):
    """FAB's converter with the indexed filters first for text columns (the list's default choice)."""

    conversion_table = tuple(
        (kind, TEXT_FILTERS if kind in ("is_text", "is_string") else filters)
        for kind, filters in fab.SQLAFilterConverter.conversion_table)

    def convert(self, col_name):
        converted = super().convert(col_name)
        if converted and col_name in IDENTIFIER_COLUMNS:
            # emails and phone numbers have no words to match
            converted = [f for f in converted if not isinstance(f, FilterMatchesWords)]
        if converted and col_name == OWNER and self.datamodel.is_relation_many_to_one(col_name):
            converted.append(FilterOwnerTeam(col_name, self.datamodel))  # the "My team" switch
        if converted and col_name == "customer" and self.datamodel.obj.__tablename__ in FOLLOWERS:
            # whose rows these are: their customer's owner's (the dashboard's drill links to activities)
            converted.extend(kind(col_name, self.datamodel) for kind in FOLLOWER_FILTERS)
        return converted
