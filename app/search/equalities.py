"""Equalities on a text column read through its B-tree, never its trigram index, where no order is asked.

pg_trgm 1.6 (PostgreSQL 14+) serves `=` and `IN` with its GIN index too: a lookup of every trigram of
the value, whose lists of rows it intersects. For a common value that is slow: `industry = 'Finance'`
at scale 1 intersected 8 trigrams' lists into 119,076 rows in 30-50 ms, where the column's (column, key)
B-tree (app/models/list_indexes.py) reads the same rows in ~5 ms; yet the planner prices the GIN lookup
lower, and PostgreSQL cannot be told to leave one index out for one condition. A trigram index serves
no range, so `column = v` is written `column >= v AND column <= v`: the same rows (the database's
collation is deterministic: only identical strings sort as equal), estimated alike (the planner takes
the pair as one range and reads the value's share in the column's statistics), served by the B-tree only.

Only in statements without an order (a list's capped count, its search's index lookups): with `=` the
planner knows the column is constant and reads the (column, key) B-tree in key order for a page, which
a range does not tell it. Columns without a B-tree keep `=`: their trigram index is their only one.
"""
from __future__ import annotations

from functools import cache

from sqlalchemy import String, and_, bindparam, or_
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, ClauseElement, Grouping
from sqlalchemy.sql.schema import Column, Table
from sqlalchemy.sql.visitors import replacement_traverse

from app.fields.derived import columns_cache
from app.models.searchable import INDEXED_MODELS, custom_type, substring_columns


@columns_cache  # a custom text field adds both indexes (app/fields/ddl.py)
@cache
def trigram_and_btree(table: Table) -> frozenset[str]:
    """The columns of `table` with a trigram index and a B-tree that starts with them."""
    model = next((m for m in INDEXED_MODELS if m.__table__ is table), None)
    if model is None:
        return frozenset()
    led = {index.expressions[0].name for index in table.indexes  # the column itself first, not an expression of it
           if isinstance(index.expressions[0], Column) and (index.dialect_options["postgresql"]["using"] or
                                                             "btree") == "btree"}

    def sorted_custom(column: Column) -> bool:  # a custom text field of a bounded length is sorted by a B-tree
        return custom_type(column) == "text" and isinstance(column.type, String) and bool(column.type.length)
    return frozenset(name for name in substring_columns(model) if name in led or sorted_custom(table.c[name]))


def _range(column: Column, value: BindParameter) -> ClauseElement:
    # grouped: it takes the place of one comparison, in an AND or an OR
    return Grouping(and_(column >= value, column <= value))


def _as_ranges(element: ClauseElement) -> ClauseElement | None:
    """`column = v` as a range, `column IN (v, w)` as ranges ORed, on such a column; None for anything else."""
    if not isinstance(element, BinaryExpression) or not isinstance(element.right, BindParameter):
        return None
    column = element.left
    if not (isinstance(column, Column) and isinstance(column.table, Table)
            and column.name in trigram_and_btree(column.table)):
        return None
    if element.operator is operators.eq and not element.right.expanding:
        return _range(column, element.right)
    values = element.right.value
    if element.operator is operators.in_op and element.right.expanding and isinstance(values, (list, tuple)) \
            and values:
        return Grouping(or_(*(_range(column, bindparam(None, v, type_=column.type)) for v in values)))
    return None


def btree_equalities(element: ClauseElement) -> ClauseElement:
    """`element` (a condition or a statement that asks no order) with those equalities as ranges."""
    return replacement_traverse(element, {}, _as_ranges)
