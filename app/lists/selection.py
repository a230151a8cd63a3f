"""Which rows a bulk action acts on: the keys ticked on a page, or every row the list's arguments match.

The selection travels in the action's query string, beside the list's own arguments:
`ids=3,5,8` (rows ticked), or `all=1` with the list's `_flt_*` filters and quick search `q`
("select all N matching"). The argument guard (app/web/request_guard.py) has checked the
filters as for the list itself; the rows are never loaded, only turned into a query.

Every function here reads the arguments it is given (a request's, or a bulk job's stored
ones), never the request: the views pass `request.args` (views/mixins/bulk_actions.py).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import inspect
from sqlalchemy.orm import Query
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from app.crud.datamodel import PK_MAX

MAX_IDS = 1_000  # ticked rows come from one page (at most 100): more is not a page's selection
FILTER_ARG = re.compile(r"_flt_(\d)_(.*)")  # FAB's `_flt_<operator index>_<column>`
LIST_ARGS = ("_flt_", "_oc_", "_od_")  # the list's filters and sort, with its quick search `q`
Args = Mapping[str, Any]  # a MultiDict (request.args), or {name: [values]} (a job's stored arguments)


def primary_key(model: type) -> Any:
    mapper = inspect(model)
    (column,) = mapper.primary_key
    return getattr(model, mapper.get_property_by_column(column).key)


def carried(args: Args, selection: bool = True) -> dict[str, list[str]]:
    """The list's own arguments (filters, sort, quick search) in `args`, and the selection's (`ids`,
    `all`) unless `selection` is False: what the next step, a link back to the list or a job keeps."""
    args = MultiDict(args)
    keep = ("q", "ids", "all") if selection else ("q",)
    return {name: args.getlist(name) for name in args if name in keep or name.startswith(LIST_ARGS)}


def ticked_ids(args: Args) -> list[int]:
    """The keys in `ids=`; 400 when malformed."""
    parts = [p for p in (MultiDict(args).get("ids") or "").split(",") if p.strip()]
    if not parts or len(parts) > MAX_IDS or not all(p.strip().isdigit() and int(p) <= PK_MAX for p in parts):
        raise BadRequest(_("Select rows first (ids must be whole numbers)."))
    return sorted({int(p) for p in parts})


def selects_all(args: Args) -> bool:
    return MultiDict(args).get("all") == "1"


def list_filters(view: Any, args: Args) -> Any:
    """The list's filters from the `_flt_*` arguments, joined with the view's base filters.

    Parsed as FAB's `get_filter_args` does (which reads only the request), into filters of
    its own, not the view's shared `_filters`: a bulk job parses its arguments in a thread
    beside the process's requests.
    """
    filters = view.datamodel.get_filters(view.search_columns)
    allowed = filters.get_search_filters()
    for name, values in MultiDict(args).lists():
        match = FILTER_ARG.fullmatch(name)
        if match and match[2] in allowed:  # as FAB: a column the list cannot filter on is ignored
            filters.add_filter_index(match[2], int(match[1]), values)
    return filters.get_joined_filters(view._base_filters)


def selection(view: Any, args: Args) -> Query:
    """The rows the selection in `args` names, as a query of the view's model (not run here)."""
    datamodel = view.datamodel
    query = datamodel.session.query(datamodel.obj)
    if not selects_all(args):
        # the ticked keys, within what the screen may show (its base filters)
        return datamodel.filtered(query, view._base_filters).filter(primary_key(datamodel.obj).in_(ticked_ids(args)))
    query = datamodel.filtered(query, list_filters(view, args))
    text = (MultiDict(args).get("q") or "").strip()
    if text:
        # the list's quick search, when the screen has it: the same condition as the list's
        search = getattr(view, "quick_search_query", None)
        if search is None:  # never act on more rows than the user saw
            raise BadRequest(_("This list cannot apply a quick search to a bulk action."))
        query = search(query, text)
    return query


def list_order(view: Any, args: Args) -> tuple[str, str]:
    """The list's sort in its arguments (`_oc_<View>`, `_od_<View>`, as FAB reads them), else the screen's
    default order, else its key ascending: (column, "asc" | "desc")."""
    args, name = MultiDict(args), type(view).__name__
    column, direction = args.get(f"_oc_{name}", ""), args.get(f"_od_{name}", "")
    if column in view.order_columns and direction in ("asc", "desc"):
        return column, direction
    return view.base_order or (view.datamodel.get_pk_name(), "asc")
