"""Check list filters and the REST API's `q` argument before FAB reads them.

FAB hands filter values to SQL as they come (a text where a related row's key
is expected, a key beyond the integer range, a list where text is expected) and
takes page numbers and sizes as given (a negative OFFSET); the API's handlers
turn every such error into a 500. The same rules serve the list screens, their
CSV export (`_flt_<n>_<column>` arguments) and the API (`q=(filters:...)`).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

import jsonschema
import prison
from flask import request
from werkzeug.datastructures import ImmutableMultiDict
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.api.schemas import get_info_schema, get_item_schema, get_list_schema
from flask_babel import gettext as _

from app.crud.datamodel import PK_MAX
from app.crud.derive import NUMERIC_MAX
from app.crud.openapi_query import MAX_PAGE, info_query, item_query, list_query
from app.lists.selection import FILTER_ARG

# the schemas the OpenAPI document declares for `q`: the API checks `q` against the same ones
DECLARED = {"get_list": list_query, "get": item_query, "info": info_query}
_FORMATS = jsonschema.FormatChecker()
API_ARGS = {"q", "_l_"}  # the API's arguments: `q`, and the language of its messages
LIST_VALUED = {"in", "not_in", "rel_m_m", "inf"}  # FAB filters that take a list of values
SCHEMAS = {"get_list": get_list_schema, "get": get_item_schema, "info": get_info_schema}
_BOOLEAN = {"true", "false", "y", "n", "1", "0", "on", "off", "yes", "no"}


def _whole(value: Any, low: int, high: int) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"-?\d{1,20}", value):
            return False
        value = int(value)
    return isinstance(value, int) and low <= value <= high


def _decimal(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return False
    return number.is_finite() and abs(number) <= NUMERIC_MAX


def _date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


def value_problem(datamodel: Any, column: str, value: Any) -> str | None:
    """Why `value` cannot filter `column` (None when it can); empty values are no filter."""
    if value is None or value == "":
        return None
    if isinstance(value, (list, dict)):
        return _("%(column)s: one value expected, not a list.", column=column)
    if isinstance(value, str) and ("\x00" in value or len(value) > 1000):
        return _("%(column)s: not a valid filter value.", column=column)
    if datamodel.is_relation(column):
        ok = _whole(value, 1, PK_MAX)
    elif datamodel.is_integer(column):
        ok = _whole(value, -2**31, 2**31 - 1)
    elif datamodel.is_numeric(column) or datamodel.is_float(column):
        ok = _decimal(value)
    elif datamodel.is_date(column) or datamodel.is_datetime(column):
        ok = _date(value)
    elif datamodel.is_boolean(column):
        ok = isinstance(value, bool) or str(value).strip().lower() in _BOOLEAN
    else:
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
    return None if ok else _("%(column)s: %(value)s is not a valid value for this filter.",
                             column=column, value=repr(value)[:40])


def _values_problem(datamodel: Any, column: str, values: Iterable[Any]) -> str | None:
    for value in values:
        problem = value_problem(datamodel, column, value)
        if problem:
            return problem
    return None


def filter_args_problem(view: Any) -> str | None:
    """The first unusable `_flt_<n>_<column>` argument of a list or export request, or None."""
    filters = getattr(view, "_filters", None)
    if filters is None:
        return None
    search = filters.get_search_filters()
    for name in request.args:
        match = FILTER_ARG.match(name)
        if not match or match.group(2) not in search:
            continue  # FAB ignores it
        column, index = match.group(2), int(match.group(1))
        if index >= len(search[column]):
            return _("%(column)s: no such filter.", column=column)
        values = request.args.getlist(name)
        problem = _values_problem(view.datamodel, column, values)
        if problem:
            return problem
    return None


def _paging_problem(q: dict, max_size: int) -> str | None:
    """Why a page or page_size of `q` cannot be used: the list's, or in _info a related column's choices."""
    pagers = [q] + [choices for key in ("add_columns", "edit_columns") if isinstance(q.get(key), dict)
                    for choices in q[key].values() if isinstance(choices, dict)]
    for item in pagers:
        if "page" in item and not _whole(item["page"], 0, MAX_PAGE):
            return _("Page number must be a whole number from 0 to %(max)s.", max="{:,}".format(MAX_PAGE))
        if "page_size" in item and not _whole(item["page_size"], 1, max_size):
            return _("Page size must be a whole number from 1 to %(max)s.", max=max_size)
    return None


def _load_rison(raw: str) -> Any:
    """`q` as FAB reads it: rison, or JSON (FAB_API_ALLOW_JSON_QS); ValueError when neither."""
    try:
        return prison.loads(raw)
    except Exception:  # prison raises ParserException, ValueError, IndexError, ... on bad input
        pass
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError(raw) from None


def declared_problem(view: Any, method: str, q: dict) -> str | None:
    """Why `q` does not match the schema the OpenAPI document declares for it (CRM APIs only), or None."""
    declare = DECLARED.get(method)
    if declare is None or getattr(view, "model", None) is None:
        return None
    cache = view.__dict__.setdefault("crm_q_validators", {})
    if method not in cache:
        cache[method] = jsonschema.Draft4Validator(declare(view), format_checker=_FORMATS)
    error = jsonschema.exceptions.best_match(cache[method].iter_errors(q))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "q"
    return _("The q argument is not valid at %(where)s: %(error)s", where=where, error=error.message[:200])


def rison_dumps(value: Any) -> str:
    """`value` as rison, every string quoted: prison.dumps leaves a string with a line break unquoted
    when its first line looks like an id ("a\nb"), which its own parser then refuses."""
    if isinstance(value, str):
        return "'" + value.replace("!", "!!").replace("'", "!'") + "'"
    if isinstance(value, dict):
        return "(" + ",".join(f"{rison_dumps(str(k))}:{rison_dumps(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        return "!(" + ",".join(rison_dumps(v) for v in value) + ")"
    return prison.dumps(value)  # numbers, booleans, None


def as_rison(q: dict) -> None:
    """Hand FAB the `q` that was checked, as rison: FAB decodes a JSON `q` a second time as a query
    string (a `+` becomes a space, `&` cuts it), so it would not read what was checked."""
    args = request.args.copy()
    args["q"] = rison_dumps(q)
    request.args = ImmutableMultiDict(args)


def rison_problem(view: Any, method: str) -> str | None:
    """Why the `q` argument of a request to a model API endpoint cannot be used, or None."""
    if not isinstance(view, ModelRestApi):
        return None
    unknown_args = sorted(set(request.args) - API_ARGS)
    if unknown_args and getattr(view, "model", None) is not None:  # the document declares only `q`
        return _("Unknown argument: %(name)s.", name=repr(unknown_args[0])[:80])
    raw = request.args.get("q")
    if raw is None:
        return None
    try:
        q = _load_rison(raw)
    except ValueError:
        return _("The q argument is not valid rison.")
    if not isinstance(q, dict):
        return _("The q argument must be a rison object: (key:value,...).")
    problem = declared_problem(view, method, q)
    if problem:
        return problem
    as_rison(q)
    schema = SCHEMAS.get(method)
    unknown = sorted(set(q) - set(schema["properties"])) if schema else []
    if unknown:
        return _("Unknown key in the q argument: %(key)s.", key=unknown[0])
    problem = _paging_problem(q, view.max_page_size or MAX_PAGE)
    if problem:
        return problem
    if "order_column" in q and q["order_column"] not in view.order_columns:
        return _("Cannot sort by %(column)s.", column=repr(q["order_column"])[:80])
    filters = q.get("filters", [])
    if not isinstance(filters, list):
        return _("Filters must be a list: filters:!((col:...,opr:...,value:...)).")
    search = view._filters.get_search_filters()
    for item in filters:
        if not isinstance(item, dict) or not {"col", "opr", "value"} <= set(item):
            return _("Each filter needs col, opr and value.")
        column, operator, value = item["col"], item["opr"], item["value"]
        if not isinstance(column, str) or column not in search:
            return _("Cannot filter by %(column)s.", column=repr(column)[:80])
        if not isinstance(operator, str) or operator not in {f.arg_name for f in search[column]}:
            return _("%(column)s: no filter %(operator)s.", column=column, operator=repr(operator)[:40])
        values = value if operator in LIST_VALUED and isinstance(value, list) else [value]
        problem = _values_problem(view.datamodel, column, values)
        if problem:
            return problem
    return None
