"""Which rows a bulk action acts on: the keys ticked on a page, or every row the list's arguments match.

The selection travels in the action's query string, beside the list's own arguments:
`ids=3,5,8` (rows ticked), or `all=1` with the list's `_flt_*` filters and quick search `q`
("select all N matching"). The argument guard (app/web/request_guard.py) has checked the
filters as for the list itself; the rows are never loaded, only turned into a query.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from flask_appbuilder.urltools import get_filter_args
from flask_babel import gettext as _
from sqlalchemy import inspect
from sqlalchemy.orm import Query
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from app.crud.datamodel import PK_MAX

MAX_IDS = 1_000  # ticked rows come from one page (at most 100): more is not a page's selection


def primary_key(model: type) -> Any:
    mapper = inspect(model)
    (column,) = mapper.primary_key
    return getattr(model, mapper.get_property_by_column(column).key)


def ticked_ids() -> list[int]:
    """The keys in `ids=`; 400 when malformed."""
    parts = [p for p in (request.args.get("ids") or "").split(",") if p.strip()]
    if not parts or len(parts) > MAX_IDS or not all(p.strip().isdigit() and int(p) <= PK_MAX for p in parts):
        raise BadRequest(_("Select rows first (ids must be whole numbers)."))
    return sorted({int(p) for p in parts})


def selects_all() -> bool:
    return request.args.get("all") == "1"


def list_filters(view: Any) -> Any:
    """The list's filters from this request's `_flt_*` arguments, joined with the view's base filters.

    Parsed into filters of its own, not the view's shared `_filters`: a bulk job parses its
    arguments in a thread beside the process's requests.
    """
    filters = view.datamodel.get_filters(view.search_columns)
    get_filter_args(filters)  # the list's own parsing, as the CSV export does
    return filters.get_joined_filters(view._base_filters)


def selection(view: Any) -> Query:
    """The rows this request's selection names, as a query of the view's model (not run here)."""
    datamodel = view.datamodel
    query = datamodel.session.query(datamodel.obj)
    if not selects_all():
        # the ticked keys, within what the screen may show (its base filters)
        return datamodel.filtered(query, view._base_filters).filter(primary_key(datamodel.obj).in_(ticked_ids()))
    query = datamodel.filtered(query, list_filters(view))
    text = (request.args.get("q") or "").strip()
    if text:
        # the list's quick search, when the screen has it: the same condition as the list's
        search = getattr(view, "quick_search_query", None)
        if search is None:  # never act on more rows than the user saw
            raise BadRequest(_("This list cannot apply a quick search to a bulk action."))
        query = search(query, text)
    return query


def selection_args() -> dict[str, list[str]]:
    """The selection and list arguments of this request, to carry on to the next step."""
    keep = ("ids", "all", "q")
    return {name: request.args.getlist(name) for name in request.args
            if name in keep or name.startswith(("_flt_", "_oc_", "_od_"))}


def list_order(view: Any, args: Mapping[str, Any]) -> tuple[str, str]:
    """The list's sort in its arguments (`_oc_<View>`, `_od_<View>`, as FAB reads them), else the screen's
    default order, else its key ascending: (column, "asc" | "desc")."""
    args, name = MultiDict(args), type(view).__name__
    column, direction = args.get(f"_oc_{name}", ""), args.get(f"_od_{name}", "")
    if column in view.order_columns and direction in ("asc", "desc"):
        return column, direction
    return view.base_order or (view.datamodel.get_pk_name(), "asc")
