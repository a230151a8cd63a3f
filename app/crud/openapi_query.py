"""JSON schemas of the REST API's `q` argument: exactly what app.crud.query_args accepts."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Date, DateTime, Integer, Numeric, SmallInteger

from app.crud.datamodel import PK_MAX
from app.crud.derive import NUMERIC_MAX
from app.encryption.columns import BAND_LABELS, EncryptedAmount

MAX_PAGE = 1_000_000
FILTER_TEXT_MAX = 1000
LIST_VALUED = ("in", "not_in")  # FAB filters that take a list of values
# FAB's `keys` values per endpoint: which parts of the answer to return
LIST_KEYS = ["list_columns", "order_columns", "label_columns", "description_columns", "list_title", "none"]
ITEM_KEYS = ["show_columns", "description_columns", "label_columns", "show_title", "none"]
INFO_KEYS = ["add_columns", "edit_columns", "filters", "permissions", "add_title", "edit_title", "none"]


def paging(max_size: int) -> dict[str, Any]:
    return {"page": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE},
            "page_size": {"type": "integer", "minimum": 1, "maximum": max_size}}


def filter_value(api: Any, column: str) -> dict[str, Any]:
    """What a filter on `column` compares with (app.crud.query_args.value_problem)."""
    model = api.datamodel
    if model.is_relation(column):
        return {"type": "integer", "minimum": 1, "maximum": PK_MAX}
    kind = api.model.__table__.columns[column].type if column in api.model.__table__.columns else None
    if isinstance(kind, (Integer, SmallInteger)):
        if column.endswith("_band"):
            return {"type": "integer", "minimum": 0, "maximum": len(BAND_LABELS) - 1}
        return {"type": "integer", "minimum": -2**31, "maximum": 2**31 - 1}
    if isinstance(kind, (EncryptedAmount, Numeric)):
        return {"type": "number", "minimum": -float(NUMERIC_MAX), "maximum": float(NUMERIC_MAX)}
    if isinstance(kind, DateTime):
        return {"type": "string", "format": "date-time"}
    if isinstance(kind, Date):
        return {"type": "string", "format": "date"}
    return {"type": "string", "maxLength": FILTER_TEXT_MAX, "pattern": "^[^\\x00]*$"}


def filters_schema(api: Any) -> dict[str, Any]:
    """One branch per column: its operators and the value they compare with."""
    branches = []
    for column, found in sorted(api._filters.get_search_filters().items()):
        operators = sorted({f.arg_name for f in found})
        value = filter_value(api, column)
        single = [o for o in operators if o not in LIST_VALUED]
        many = [o for o in operators if o in LIST_VALUED]
        for names, schema in ((single, value), (many, {"type": "array", "items": value, "maxItems": 100})):
            if names:
                branches.append({"type": "object", "required": ["col", "opr", "value"],
                                 "additionalProperties": False, "properties": {
                                     "col": {"type": "string", "enum": [column]},
                                     "opr": {"type": "string", "enum": names}, "value": schema}})
    return {"type": "array", "maxItems": 20, "items": {"anyOf": branches}}


def list_query(api: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {
        **paging(api.max_page_size),
        "order_column": {"type": "string", "enum": list(api.order_columns)},
        "order_direction": {"type": "string", "enum": ["asc", "desc"]},
        "filters": filters_schema(api),
        "keys": {"type": "array", "items": {"type": "string", "enum": LIST_KEYS}},
        "columns": {"type": "array", "items": {"type": "string", "enum": list(api.list_columns)}},
    }}


def item_query(api: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {
        "keys": {"type": "array", "items": {"type": "string", "enum": ITEM_KEYS}},
        "columns": {"type": "array", "items": {"type": "string", "enum": list(api.show_columns)}},
    }}


def related_columns(api: Any) -> list[str]:
    return [c for c in api.add_columns if api.datamodel.is_relation(c)]


def info_query(api: Any) -> dict[str, Any]:
    """`keys`, and the page of choices of each related column of the add and edit forms."""
    pages = {"type": "object", "additionalProperties": False, "properties": paging(api.max_page_size)}
    related = {"type": "object", "additionalProperties": False,
               "properties": {c: pages for c in related_columns(api)}}
    return {"type": "object", "additionalProperties": False, "properties": {
        "keys": {"type": "array", "items": {"type": "string", "enum": INFO_KEYS}},
        "add_columns": related, "edit_columns": related,
    }}
