"""What a custom field may be: its name, table, type, choices and labels, checked before any DDL."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, inspect, text

from app.fields.catalog import CRM_TABLES
from app.models.custom_field import FIELD_TYPES

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
NAME_MAX = 40
CHOICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")  # a stored code: safe in a CHECK literal
LABEL_MAX = 100
BAND_SUFFIX = "_band"  # a financial amount's companion column (app/encryption/columns.py)
# a type may change only to one that holds every value it held, without rewriting the table
WIDENINGS = {"text": {"long_text"}, "choice": {"text", "long_text"}, "amount": {"number"}}
# attribute names of every mapped model and of FAB's views and forms that a column must not shadow
RESERVED = {"id", "pk", "query", "metadata", "registry", "key", "keys", "version", "band"}


class FieldError(ValueError):
    """Bad input for a field: the message is for the person who gave it (translated lazily)."""


@dataclass
class FieldSpec:
    """A field as asked for, before it exists: what add() needs."""

    table_name: str
    column_name: str
    field_type: str
    label_en: Optional[str] = None
    label_zh: Optional[str] = None
    choices: list[dict] = field(default_factory=list)
    required: bool = False
    financial: bool = False


def derived_label(column: str) -> str:
    """A label from a column's name ("annual_budget" -> "Annual budget") until an admin gives one."""
    return column.replace("_", " ").strip().capitalize()


def check_table(table: str) -> str:
    if table not in CRM_TABLES:
        raise FieldError(_l("Fields can be added to %(tables)s only, not to %(table)s.",
                            tables=", ".join(CRM_TABLES), table=table))
    return table


def check_type(field_type: str) -> str:
    """A known type; link:TABLE to one of the CRM tables."""
    base, _, target = field_type.partition(":")
    if base == "link" and target:
        check_table(target)
        return field_type
    if field_type not in FIELD_TYPES:
        raise FieldError(_l("Unknown type %(type)s: use one of %(types)s.", type=field_type,
                            types=", ".join((*FIELD_TYPES, "link:TABLE"))))
    return field_type


def model_attributes(table: str) -> set[str]:
    """The names the table's model uses (columns, relationships, methods), which a column must not shadow."""
    from app.models.base import Model

    for mapper in Model.registry.mappers:
        if mapper.local_table.name == table:
            return {name for name in dir(mapper.class_) if not name.startswith("__")} | set(mapper.attrs.keys())
    return set()


def keywords(conn: Connection) -> set[str]:
    """PostgreSQL's keywords that are not plain identifiers everywhere (reserved, type or column names)."""
    return {r[0] for r in conn.execute(text("SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'"))}


def table_columns(conn: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


def check_name(conn: Connection, table: str, column: str, financial: bool = False) -> str:
    """Lower snake case, at most 40 characters, not a keyword, clashing with no column or model attribute."""
    if not NAME_RE.match(column or "") or column.endswith("_") or "__" in column:
        raise FieldError(_l("A field name is lower case letters, digits and single underscores, "
                            "starting with a letter: %(name)s is not.", name=column or '""'))
    if len(column) > NAME_MAX:
        raise FieldError(_l("A field name has at most %(max)d characters.", max=NAME_MAX))
    if column in keywords(conn):
        raise FieldError(_l("%(name)s is an SQL keyword: choose another name.", name=column))
    if column.endswith(BAND_SUFFIX):
        raise FieldError(_l("Names ending in _band are kept for encrypted amounts."))
    taken = table_columns(conn, table) | model_attributes(table) | RESERVED
    clashes = {column, column + BAND_SUFFIX} if financial else {column}
    if clashes & taken:
        raise FieldError(_l("%(table)s already has a column or attribute %(name)s.", table=table, name=column))
    return column


def check_label(label: Optional[str]) -> Optional[str]:
    label = (label or "").strip() or None
    if label and len(label) > LABEL_MAX:
        raise FieldError(_l("A label has at most %(max)d characters.", max=LABEL_MAX))
    return label


def parse_choices(raw: str | list | None) -> list[dict]:
    """`a,b` or `a=Label=标签,b` (or a list of such items, one per line on the screen): each value with
    its English and Chinese labels (default: the value)."""
    items = [i.strip() for i in raw.split(",")] if isinstance(raw, str) else list(raw or [])
    choices, seen = [], set()
    for item in filter(None, items):
        if isinstance(item, dict):
            value, en, zh = item.get("value", ""), item.get("label_en"), item.get("label_zh")
        else:
            value, en, zh = ([part.strip() for part in item.split("=", 2)] + [None, None])[:3]
        if not CHOICE_RE.match(value or ""):
            raise FieldError(_l("A choice's value is letters, digits, _ and -, at most 40: %(value)s is not.",
                                value=value or '""'))
        if value in seen:
            raise FieldError(_l("The choice %(value)s is given twice.", value=value))
        seen.add(value)
        choices.append({"value": value, "label_en": check_label(en) or value,
                        "label_zh": check_label(zh) or check_label(en) or value})
    return choices


def check_spec(conn: Connection, spec: FieldSpec) -> FieldSpec:
    """The spec, tidied, or FieldError on the first thing wrong with it."""
    check_table(spec.table_name)
    check_type(spec.field_type)
    check_name(conn, spec.table_name, spec.column_name, spec.financial)
    if spec.financial and spec.field_type != "amount":
        raise FieldError(_l("Only an amount can be financial (stored encrypted)."))
    spec.choices = parse_choices(spec.choices)
    if spec.field_type == "choice" and not spec.choices:
        raise FieldError(_l("A choice field needs its values, e.g. gold,silver,bronze."))
    if spec.field_type != "choice" and spec.choices:
        raise FieldError(_l("Only a choice field has values to choose from."))
    spec.label_en = check_label(spec.label_en) or derived_label(spec.column_name)
    spec.label_zh = check_label(spec.label_zh)
    return spec


def check_widening(old: str, new: str, financial: bool) -> None:
    """Only to a type that holds every old value, without a table rewrite."""
    check_type(new)
    if new == old:
        raise FieldError(_l("The field is already of type %(type)s.", type=new))
    if financial or new not in WIDENINGS.get(old, ()):
        raise FieldError(_l("A %(old)s field cannot become %(new)s: types can only be widened "
                            "(text to long_text, choice to text, amount to number).", old=old, new=new))
