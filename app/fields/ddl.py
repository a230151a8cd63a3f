"""The SQL of a custom field: its column, its constraints and the index its type needs.

A column is added nullable and without a default, so PostgreSQL only changes its catalogue
(no table rewrite, a brief lock). Constraints that would scan the table to check existing
rows (a choice's values, a link's foreign key, an amount's range) are added NOT VALID (still
enforced on every write from then on) and validated afterwards without blocking writes; the
existing rows are all NULL, so validation cannot fail. Indexes are built with CREATE INDEX
CONCURRENTLY after the column's transaction; an interrupted build leaves an invalid index that
`crm fields sync` finds and rebuilds.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from app.encryption.columns import BAND_LABELS
from app.fields.catalog import CRM_TABLES
from app.fields.rules import BAND_SUFFIX

NAME_LIMIT = 63  # PostgreSQL's identifier length
# one-line text is bounded, so a B-tree can sort it (an entry holds at most ~2.7 kB; long text has no sort)
TEXT_LENGTH = 255
SORTABLE_TEXT = 500  # a varchar up to this many characters (4 bytes each at most) fits a B-tree entry
SQL_TYPES = {"text": f"varchar({TEXT_LENGTH})", "long_text": "text", "choice": "text", "number": "numeric",
             "amount": "numeric(18, 2)", "date": "date", "datetime": "timestamp without time zone",
             "boolean": "boolean"}
LINK_TYPE = "integer"
FINANCIAL_TYPE = "bytea"  # an AES-GCM envelope, as customers.revenue (app/encryption/columns.py)
BAND_TYPE = "smallint"


def object_name(*parts: str) -> str:
    """An index or constraint name, shortened with a hash when over PostgreSQL's 63 characters."""
    name = "_".join(parts)
    if len(name) <= NAME_LIMIT:
        return name
    return f"{name[:NAME_LIMIT - 9]}_{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def q(name: str) -> str:
    """A validated identifier (lower snake case, never a keyword), quoted all the same."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class IndexDef:
    """An index a field needs: its name and the CREATE INDEX CONCURRENTLY that builds it."""

    name: str
    create: str


@dataclass(frozen=True)
class ConstraintDef:
    name: str
    definition: str  # after ADD CONSTRAINT <name>


def columns_sql(table: str, column: str, field_type: str, financial: bool) -> list[str]:
    """ALTER TABLE ... ADD COLUMN clauses: nullable, no default (no rewrite)."""
    if financial:
        return [f"ADD COLUMN {q(column)} {FINANCIAL_TYPE}", f"ADD COLUMN {q(column + BAND_SUFFIX)} {BAND_TYPE}"]
    sql_type = LINK_TYPE if field_type.startswith("link:") else SQL_TYPES[field_type]
    return [f"ADD COLUMN {q(column)} {sql_type}"]


def constraints(table: str, column: str, field_type: str, financial: bool, choices: list[dict] | None,
                ) -> list[ConstraintDef]:
    """The constraints a field's values obey (added NOT VALID, validated without blocking writes)."""
    if financial:
        band = column + BAND_SUFFIX
        return [ConstraintDef(object_name("ck", table, band),
                              f"CHECK (({q(column)} IS NULL) = ({q(band)} IS NULL) "
                              f"AND {q(band)} BETWEEN 0 AND {len(BAND_LABELS) - 1})")]
    if field_type == "choice":
        values = ", ".join(lit(c["value"]) for c in choices or [])
        return [ConstraintDef(object_name("ck", table, column, "choice"), f"CHECK ({q(column)} IN ({values}))")]
    if field_type == "amount":
        return [ConstraintDef(object_name("ck", table, column, "amount"), f"CHECK ({q(column)} >= 0)")]
    if field_type.startswith("link:"):
        target = field_type.partition(":")[2]
        return [ConstraintDef(object_name("fk", table, column, target),
                              f"FOREIGN KEY ({q(column)}) REFERENCES {q(target)} ({q(CRM_TABLES[target])}) "
                              "ON DELETE SET NULL")]
    return []


def indexes(table: str, column: str, field_type: str, financial: bool, bounded: bool = True) -> list[IndexDef]:
    """The index its type needs for filters, sorting and search (none for yes/no). `bounded`: a text field's
    column is a short varchar (sorted by a B-tree), not unbounded text (a choice widened, a DBA's column)."""
    key = CRM_TABLES[table]

    def build(kind: str, using: str, expression: str) -> IndexDef:
        name = object_name("ix", table, column, kind)
        return IndexDef(name, f"CREATE INDEX CONCURRENTLY {q(name)} ON {q(table)} {using}({expression})")

    if financial:  # sorted and filtered by magnitude, as revenue_band
        return [build("band_sort", "", f"{q(column + BAND_SUFFIX)}, {q(key)}")]
    if field_type == "text":  # substring search and "contains" filters (ILIKE); sorting when bounded
        return [build("trgm", "USING gin ", f"{q(column)} gin_trgm_ops")] + \
            ([build("sort", "", f"{q(column)}, {q(key)}")] if bounded else [])
    if field_type == "long_text":  # substrings, words and CJK bigrams, as the search indexes (migration 0004, 0008)
        return [build("trgm", "USING gin ", f"{q(column)} gin_trgm_ops"),
                build("words", "USING gin ", f"crm_search_vector({q(column)})"),
                build("bigrams", "USING gin ", f"crm_cjk_bigrams({q(column)})")]
    if field_type == "boolean":
        return []
    # numbers, amounts, dates, choices, links: a B-tree on (column, key) as the list indexes (0010)
    return [build("sort", "", f"{q(column)}, {q(key)}")]
