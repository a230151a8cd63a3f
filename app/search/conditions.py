"""SQL conditions for "contains" (pg_trgm) and "matches words" (tsvector) that the indexes serve.

The expressions here are exactly the indexed ones (migrations 0004, 0008):
`column gin_trgm_ops`, `crm_search_vector(column)` and `crm_cjk_bigrams(column)`.
"""
from __future__ import annotations

from sqlalchemy import and_, cast, func, literal
from sqlalchemy.dialects.postgresql import ARRAY, REGCONFIG, TEXT, array
from sqlalchemy.sql.elements import ColumnElement

from app.search.text import is_cjk, like_pattern, needs_word_index, prefix_query, spaced, word_query

WORDS_CONFIG = "english"  # stemming: "renewals" finds "renewal"


def search_vector(column) -> ColumnElement:
    return func.crm_search_vector(column)


def _config(name: str = WORDS_CONFIG):
    return cast(literal(name), REGCONFIG)


def words_tsquery(query: str) -> ColumnElement:
    return func.websearch_to_tsquery(_config(), literal(spaced(word_query(query))))


def prefix_tsquery(query: str) -> ColumnElement:
    # 'simple': no stop words ("a" is one in English) and no stemming of the typed prefix
    return func.to_tsquery(_config("simple"), literal(prefix_query(query)))


def matches_words(column, query: str) -> ColumnElement:
    """The column's words match the query's (English stemming; CJK as character phrases)."""
    return search_vector(column).op("@@")(words_tsquery(query))


def starts_word(column, query: str) -> ColumnElement:
    """A word of the column starts with the (short) query: indexed where ILIKE cannot be.

    The regex (a word starting with the query) is implied by the vector's match and far
    cheaper: read row by row, only the rows it lets through compute the vector.
    """
    word = prefix_query(query).removesuffix(":*")  # letters, digits, _: nothing special in a regex
    return and_(column.op("~*")(literal(r"\m" + word)), search_vector(column).op("@@")(prefix_tsquery(query)))


def has_bigram(column, query: str) -> ColumnElement:
    """The column holds the two CJK characters `query` in sequence (the bigram index, exact)."""
    return func.crm_cjk_bigrams(column, type_=ARRAY(TEXT)).op("@>")(cast(array([query]), ARRAY(TEXT)))


def contains(column, query: str, word_indexed: bool = True) -> ColumnElement:
    """Case-insensitive substring match.

    Three or more characters: ILIKE, served by the trigram index. Two CJK characters:
    the bigram index; one: the word index, where each CJK character is a token.
    Both are exact; strpos is the cheap check when the planner reads rows in key
    order instead (a frequent character: the newest rows match soon).
    """
    if needs_word_index(query) and is_cjk(query) and word_indexed:
        # strpos, not ILIKE: the planner must not pick the trigram index (useless without a
        # trigram: it would return every row); CJK has no case.
        found = has_bigram(column, query) if len(query) == 2 else matches_words(column, query)
        # strpos first: inside an OR the planner keeps this order, and read row by row
        # only the rows holding the characters compute the indexed expression
        return and_(func.strpos(column, query) > 0, found)
    return column.ilike(like_pattern(query), escape="\\")
