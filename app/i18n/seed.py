"""Chinese names of tables and columns, read from the seed's design document.

The seed (docs/seed/crm-database-design.zh.md) describes every column in
Chinese; those descriptions are the Chinese field labels. This module is used
when the catalog is updated (`make translations`) and by the tests, not at run time.
"""
from __future__ import annotations

import re
from pathlib import Path

SEED = Path(__file__).resolve().parents[2] / "docs" / "seed" / "crm-database-design.zh.md"

_HEADING = re.compile(r"^#{3,4}\s+(?:[\d.]+\s+)?(?P<zh>[^（(]+?)表?（(?P<en>[A-Za-z ]+)）")
_ROW = re.compile(r"^\|\s*(?P<column>[a-z_]+)\s*\|\s*[^|]+\|\s*(?P<text>[^|]+?)\s*\|$")
# English heading -> table name, where the heading is not simply the table name
_TABLES = {"ServiceTickets": "service_tickets", "RolePermissions": "role_permissions",
           "Roles and Permissions": None}


def _table_name(english: str) -> str | None:
    return _TABLES.get(english, english.lower()) if english in _TABLES else english.lower()


def read_seed(path: Path = SEED) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """({table: Chinese table name}, {(table, column): Chinese description}) as the seed writes them."""
    tables: dict[str, str] = {}
    columns: dict[tuple[str, str], str] = {}
    table: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        heading = _HEADING.match(line)
        if heading:
            table = _table_name(heading["en"].strip())
            if table:
                tables[table] = heading["zh"].strip()
            continue
        row = _ROW.match(line.strip())
        if row and table and row["column"] != "字段名":
            columns[(table, row["column"])] = row["text"]
    return tables, columns


def column_label(description: str) -> str:
    """A field label from a seed description: '状态（如新、跟进中）' -> '状态', '外键，关联客户表' -> '客户编号'."""
    text = re.sub(r"（.*?）|\(.*?\)", "", description).strip()
    if text == "主键":
        return "编号"
    foreign = re.fullmatch(r"外键，关联(.+?)表?", text)
    if foreign:
        return foreign[1] + "编号"
    return text


def relation_label(description: str) -> str | None:
    """The label of the relationship behind a foreign key: '外键，关联客户表' -> '客户'."""
    foreign = re.fullmatch(r"外键，关联(.+?)表?", description.strip())
    return foreign[1] if foreign else None


def seed_labels() -> dict[tuple[str, str], str]:
    """{(table, column or relationship key): Chinese label} for every column the seed describes."""
    _tables, columns = read_seed()
    labels: dict[tuple[str, str], str] = {}
    for (table, column), description in columns.items():
        labels[(table, column)] = column_label(description)
        relation = relation_label(description)
        if relation and column.endswith("_id"):
            labels[(table, column[:-3])] = relation
    return labels
