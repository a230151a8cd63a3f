"""SQL conditions for "contains" (pg_trgm) and "matches words" (tsvector) that the indexes serve.

The expressions here are exactly the indexed ones (migrations 0004, 0008):
`column gin_trgm_ops`, `crm_search_vector(column)` and `crm_cjk_bigrams(column)`.
The typed query reaches them as a `Terms`: its values are bound parameters.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Boolean, Text, and_, bindparam, cast, func, literal, literal_column, or_, true
from sqlalchemy.dialects.postgresql import ARRAY, REGCONFIG, TEXT
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, ClauseElement, ColumnElement
from sqlalchemy.sql.visitors import iterate, replacement_traverse

from app.search.text import is_cjk, like_pattern, needs_word_index, prefix_query, spaced, word_query

WORDS_CONFIG = "english"  # stemming: "renewals" finds "renewal"


@dataclass(frozen=True)
class Terms:
    """A typed (normalised) query and the values the search conditions bind for it.

    Unshared (the lists' filters): a parameter of its own per use, so two filters in one
    statement keep their own values. Shared (the CRM-wide search): fixed parameter names,
    so a statement built once per `shape` runs for any query of that shape with `params()`.
    """
    query: str
    shared: bool = False

    @cached_property
    def values(self) -> dict[str, object]:
        word = prefix_query(self.query)
        # what a row holding a short query holds as a substring: the query, or for one or two letters the
        # word its rows start a word with (`word_start`: the query lowered, without its other characters)
        held = word.removesuffix(":*") if self.short_latin and word else self.query
        return {"text": self.query, "like": like_pattern(self.query), "starts": like_pattern(self.query)[1:],
                "words": spaced(word_query(self.query)), "prefix": word,
                "word_start": r"\m" + word.removesuffix(":*"), "bigrams": [self.query], "held": like_pattern(held)}

    @property
    def short(self) -> bool:
        """Shorter than a trigram: only the word and bigram indexes can serve it."""
        return needs_word_index(self.query)

    @property
    def cjk(self) -> bool:
        return is_cjk(self.query)

    @property
    def short_latin(self) -> bool:
        """One or two letters or digits: looked up as the start of words."""
        return self.short and not self.cjk

    @property
    def has_prefix(self) -> bool:
        """A short query with letters or digits to look words up by."""
        return bool(self.values["prefix"])

    def shape(self) -> tuple:
        """What a statement's structure depends on (every branch on the query reads these)."""
        return self.short, self.cjk, len(self.query) if self.short else 0, self.has_prefix

    def params(self) -> dict[str, object]:
        """Values for a statement built from shared Terms of the same shape."""
        return {f"search_{name}": value for name, value in self.values.items()}

    def bind(self, name: str) -> BindParameter:
        type_ = ARRAY(TEXT) if name == "bigrams" else Text()
        if self.shared:  # no value kept in a statement built for many queries: run without params(), it fails
            return bindparam(f"search_{name}", type_=type_, required=True)
        return bindparam(f"search_{name}", self.values[name], type_=type_, unique=True)


def search_vector(column) -> ColumnElement:
    return func.crm_search_vector(column)


def _config(name: str = WORDS_CONFIG):
    return cast(literal(name), REGCONFIG)


def words_tsquery(terms: Terms) -> ColumnElement:
    return func.websearch_to_tsquery(_config(), terms.bind("words"))


def prefix_tsquery(terms: Terms) -> ColumnElement:
    # 'simple': no stop words ("a" is one in English) and no stemming of the typed prefix
    return func.to_tsquery(_config("simple"), terms.bind("prefix"))


def matches_words(column, terms: Terms) -> ColumnElement:
    """The column's words match the query's (English stemming; CJK as character phrases)."""
    return search_vector(column).op("@@")(words_tsquery(terms))


def word_starts_with(column, terms: Terms) -> ColumnElement:
    """A word of the column starts with the (short) query: a regex, checked row by row (no index serves it).

    On `column || ''`, not the column: pg_trgm indexes regexes too, and a regex without a
    whole trigram would take its index (every row a candidate, seconds at a million rows).
    """
    # letters, digits, _ after \m: nothing special in a regex
    return column.op("||")(literal_column("''")).op("~*")(terms.bind("word_start"))


def holds(column, terms: Terms) -> ColumnElement:
    """The column holds the query as typed (CJK has no case), checked row by row."""
    return func.strpos(column, terms.bind("text")) > 0


def starts_word(column, terms: Terms) -> ColumnElement:
    """A word of the column starts with the (short) query: indexed where ILIKE cannot be.

    The regex is implied by the vector's match and far cheaper: read row by row, only the
    rows it lets through compute the vector; the word index is the only way in.
    """
    return and_(word_starts_with(column, terms), search_vector(column).op("@@")(prefix_tsquery(terms)))


def has_bigram(column, terms: Terms) -> ColumnElement:
    """The column holds the two CJK characters of the query in sequence (the bigram index, exact)."""
    return func.crm_cjk_bigrams(column, type_=ARRAY(TEXT)).op("@>")(terms.bind("bigrams"))


def contains(column, terms: Terms, word_indexed: bool = True) -> ColumnElement:
    """Case-insensitive substring match.

    Three or more characters: ILIKE, served by the trigram index. Two CJK characters:
    the bigram index; one: the word index, where each CJK character is a token.
    Both are exact; strpos is the cheap check when the planner reads rows in key
    order instead (a frequent character: the newest rows match soon).
    """
    if terms.short and terms.cjk and word_indexed:
        # strpos, not ILIKE: the planner must not pick the trigram index (useless without a
        # trigram: it would return every row); CJK has no case.
        found = has_bigram(column, terms) if len(terms.query) == 2 else matches_words(column, terms)
        # strpos first: inside an OR the planner keeps this order, and read row by row
        # only the rows holding the characters compute the indexed expression
        return and_(holds(column, terms), found)
    return column.ilike(terms.bind("like"), escape="\\")


INDEX_ONLY = "crm_index_only"  # annotation of a condition that only lets an index serve an exact check beside it


def index_only(condition: ColumnElement) -> ColumnElement:
    """Mark `condition` as implied by an exact check ANDed with it: there only for the index to find the rows.

    Its indexed expressions (word vectors, CJK bigrams) cost tens of microseconds per row to
    compute: a scan reading rows one by one leaves them out (`without_index_only`), and a
    bitmap scan through their index does not compute them again for its rows.
    """
    return condition._annotate({INDEX_ONLY: True})


def without_index_only(condition: ColumnElement) -> ColumnElement:
    """`condition` with its index-only parts made TRUE: the cheap, exact form for rows read one by one."""
    return replacement_traverse(condition, {}, lambda e: true() if e._annotations.get(INDEX_ONLY) else None)


def lowered_like(element: ColumnElement) -> ColumnElement | None:
    """`a ILIKE p` as `lower(a) LIKE lower(p)`; None for any other element (a replacement_traverse callback)."""
    if isinstance(element, BinaryExpression) and element.operator is operators.ilike_op:
        escape = element.modifiers.get("escape")
        return func.lower(element.left).like(func.lower(element.right), escape=escape)
    return None


def for_rows(condition: ColumnElement) -> ColumnElement:
    """`condition` as checked on rows read one by one (the newest-rows windows): ILIKE as lower() LIKE lower().

    The same test: in a multibyte database PostgreSQL's ILIKE lowers both sides and compares
    them with LIKE, but lowers the pattern again for every row; lowered once (a constant of the
    plan), a window of ten thousand rows is checked in about half the time (measured at scale 1).
    A trigram index serves ILIKE only: the lookups keep it.
    """
    return replacement_traverse(condition, {}, lowered_like)


def indexed_any(columns, terms: Terms, also: Sequence[ColumnElement] = ()) -> ColumnElement | None:
    """A short query in any of `columns` (word-indexed), as (index lookup) AND (exact check); None for 3+ characters.

    One OR of the index conditions, one of the exact checks: the bitmap scan's condition is
    then the first OR itself, which its rows need not recompute (an OR of (check AND index)
    per column computed the indexed expression for every match). For one or two letters the
    check (a word of the column starts with them) is the regex that the word index implies.
    `also`: exact conditions (a value, a label's values) that match too, in both ORs: each its own
    lookup beside the indexes' and its own check (customers ?q=科技 深圳, 科技 also an industry's label:
    the bigrams of each match's name were computed again, 15 ms of 31 at scale 1).
    """
    if not terms.short or not columns:
        return None
    if terms.short_latin:
        if not terms.has_prefix:
            return None
        index = [search_vector(c).op("@@")(prefix_tsquery(terms)) for c in columns]
        check = [word_starts_with(c, terms) for c in columns]
    else:
        index = [has_bigram(c, terms) if len(terms.query) == 2 else matches_words(c, terms) for c in columns]
        check = [holds(c, terms) for c in columns]
    if also:  # not split per column (`per_column`: the follower tables, which have no labels)
        return and_(index_only(or_(*index, *also)), or_(*check, *also))
    candidates = or_(*[candidate(c, terms) for c in columns])
    return and_(index_only(or_(*index)), or_(*check))._annotate(
        {PER_COLUMN: PerColumn(tuple(zip(check, index)), candidates)})


PER_COLUMN = "crm_per_column"  # annotation of indexed_any's condition: a PerColumn


class PerColumn:
    """An `indexed_any` condition's (exact check, index lookup) per column and the leakproof test its matches
    pass (`candidate` per column), kept on the condition for `per_column`.

    An annotation's value is part of its statement's cache key. Clauses there would key their bound values
    out of their place in the statement (a cached compilation could then run with another query's terms),
    and a tuple of clauses compares by identity (every short query's statement was compiled again, 3-5 ms a
    request). Held here, the value compares equal to any other: it changes no SQL, `per_column` does.
    """

    __slots__ = ("pairs", "candidates")

    def __init__(self, pairs: tuple[tuple[ColumnElement, ColumnElement], ...], candidates: ColumnElement) -> None:
        self.pairs, self.candidates = pairs, candidates

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PerColumn)

    def __hash__(self) -> int:
        return hash(PerColumn)


def candidate(column, terms: Terms) -> ColumnElement:
    """The column holds the query (`held`), case-insensitively: implied by a short query's exact checks, and leakproof.

    ILIKE's function is LEAKPROOF (app/ops/embedded_db.py), so under row-level security this runs
    before the policy's test and only the rows passing it are tested (strpos and the regex are not:
    the policy ran first, a probe of the row's customer per row read). Called as a function, not as
    the operator: no index serves it, so it never takes the place of the word or bigram index (a
    trigram index finds nothing useful for fewer than three characters: every row).
    """
    return func.texticlike(column, terms.bind("held"), type_=Boolean)


def has_per_column(element: ClauseElement) -> bool:
    """Whether `element` holds an `indexed_any` condition (`per_column` changes it)."""
    return any(PER_COLUMN in e._annotations for e in iterate(element))


def per_column(element: ClauseElement, checks_only: bool = False) -> ClauseElement:
    """`element` with each `indexed_any` condition as an OR over its columns of (exact check AND index lookup).

    For rows read one by one where the planner chooses so (a scoped user's contacts, read through
    their customers): a match then computes the indexed expression of the one column that holds the
    query, where the two ORs computed it for each column until one held (three for a contact's
    position). A bitmap scan through the indexes computes it for each match instead of for none:
    the lists' index lookups keep `indexed_any`'s form. Either way the leakproof `candidate` test
    comes first. `checks_only`: without the index lookups, for a plan that reads the rows one by one
    anyway (each match computed a word vector or bigrams, 11-17 us, for nothing the checks don't say).
    """
    def split(e: ClauseElement) -> ClauseElement | None:
        parts = e._annotations.get(PER_COLUMN)
        if parts is None:
            return None
        # the candidates first: the policy's test (and these checks) only for the rows holding the query
        found = or_(*(check for check, _index in parts.pairs)) if checks_only else \
            or_(*(and_(check, index) for check, index in parts.pairs))
        return and_(parts.candidates, found)
    return replacement_traverse(element, {}, split)
