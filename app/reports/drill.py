"""Links from a chart's bar or slice to the matching filtered list screen.

FAB list filters are `?_flt_<i>_<column>=<value>`, where <i> is the position of
the filter class in the list FAB builds for that column (for a string column 3
is "equal", for a date 1 is "greater than"). The positions are looked up in the
registered view rather than hard-coded, so they follow FAB's converter.
"""
from __future__ import annotations

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


def _view(route_base: str) -> Any:
    for view in current_app.appbuilder.baseviews:
        if getattr(view, "route_base", None) == route_base and hasattr(view, "_filters"):
            return view
    raise LookupError(f"no list screen at {route_base}")


def filter_index(route_base: str, column: str, kind: type) -> int:
    filters = _view(route_base)._filters.get_search_filters()[column]
    return next(i for i, f in enumerate(filters) if type(f) is kind)


def list_url(route_base: str, *conditions: tuple[str, type, Any]) -> str:
    """`/opportunities/list/?_flt_3_stage=won` for (("stage", EQ, "won"),); IN takes a list of values."""
    params: list[tuple[str, str]] = []
    for column, kind, value in conditions:
        key = f"_flt_{filter_index(route_base, column, kind)}_{column}"
        values: Iterable[Any] = value if kind is IN else [value]
        params.extend((key, str(v)) for v in values)
    return f"{route_base}/list/?{urlencode(params)}"
