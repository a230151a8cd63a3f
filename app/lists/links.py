"""Links to a list screen filtered on some columns.

FAB list filters are `?_flt_<i>_<column>=<value>`, where <i> is the position of
the filter class in the list FAB builds for that column. The positions are
looked up in the registered view rather than hard-coded, so they follow the
filter converter (app/search adds its own filters in front of FAB's).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable
from urllib.parse import urlencode

from flask import current_app
from flask_appbuilder.models.sqla.filters import (
    FilterEqual,
    FilterGreater,
    FilterIn,
    FilterSmaller,
)

EQ, GT, LT, IN = FilterEqual, FilterGreater, FilterSmaller, FilterIn


@lru_cache(maxsize=256)
def _filter_index(appbuilder: Any, route_base: str, column: str, kind: type) -> int:
    view = next((v for v in appbuilder.baseviews
                 if getattr(v, "route_base", None) == route_base and hasattr(v, "_filters")), None)
    if view is None:
        raise LookupError(f"no list screen at {route_base}")
    filters = view._filters.get_search_filters()[column]
    return next(i for i, f in enumerate(filters) if type(f) is kind)


@lru_cache(maxsize=256)
def _arg_index(appbuilder: Any, route_base: str, column: str, arg_name: str) -> int | None:
    view = next((v for v in appbuilder.baseviews
                 if getattr(v, "route_base", None) == route_base and hasattr(v, "_filters")), None)
    filters = view._filters.get_search_filters().get(column, ()) if view is not None else ()
    return next((i for i, f in enumerate(filters) if getattr(f, "arg_name", None) == arg_name), None)


def arg_index(route_base: str, column: str, arg_name: str) -> int | None:
    """Position of the filter named `arg_name` ("team") among the screen's filters on `column`; None without it."""
    return _arg_index(current_app.appbuilder, route_base, column, arg_name)


def filter_index(route_base: str, column: str, kind: type) -> int:
    """Position of filter `kind` among the list screen's filters on `column` (fixed once views are registered)."""
    return _filter_index(current_app.appbuilder, route_base, column, kind)


def list_url(route_base: str, *conditions: tuple[str, type, Any]) -> str:
    """`/opportunities/list/?_flt_3_stage=won` for (("stage", EQ, "won"),); IN takes a list of values."""
    params: list[tuple[str, str]] = []
    for column, kind, value in conditions:
        key = f"_flt_{filter_index(route_base, column, kind)}_{column}"
        values: Iterable[Any] = value if kind is IN else [value]
        params.extend((key, str(v)) for v in values)
    return f"{route_base}/list/?{urlencode(params)}"
