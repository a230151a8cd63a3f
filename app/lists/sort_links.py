"""A list page's sort and page-size links: FAB's URL built once per page, not once per link.

FAB's `link_order` and `link_page_size` filters copy the request's arguments and build the URL
through the router for each link (a list has six to ten sortable columns and four page sizes);
the URLs differ only in one argument's value. The URL is built once per request with a
placeholder in its place, which each plain value (letters, digits, `_`: the same in a URL)
replaces; any other value goes through FAB's filter.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from flask import Flask, current_app, g

PLACEHOLDER = "crm0placeholder0value"
PLAIN = re.compile(r"[A-Za-z0-9_]+")
MEMO = "crm_list_links"  # flask.g: (filter, view name) -> the URL with PLACEHOLDER


def templated(fab_filter: Callable[[Any, str], str], value: Any, view: str) -> str:
    """`fab_filter(value, view)`: FAB's URL for this request, from the page's kept pattern where the value is plain."""
    text = str(value)
    if not PLAIN.fullmatch(text):
        return fab_filter(value, view)
    memo = g.setdefault(MEMO, {})
    key = (fab_filter, view)
    url = memo.get(key)
    if url is None:
        url = memo[key] = fab_filter(PLACEHOLDER, view)
    if url.count(PLACEHOLDER) != 1:  # the placeholder also in the page's own arguments
        return fab_filter(value, view)
    return url.replace(PLACEHOLDER, text)


def sort_link(column: str, view: str) -> str:
    """FAB's `column | link_order(view)`: this page's URL sorted by `column` (the direction toggled)."""
    return templated(current_app.jinja_env.filters["crm_fab_link_order"], column, view)


def init_sort_links(app: Flask) -> None:
    """The header's `crm_sort_link`, and FAB's `link_page_size` filter (its macro's four links) through a pattern."""
    filters = app.jinja_env.filters
    filters["crm_fab_link_order"] = filters["link_order"]
    fab_page_size = filters["link_page_size"]
    filters["link_page_size"] = lambda page_size, view: templated(fab_page_size, page_size, view)
    app.jinja_env.globals["crm_sort_link"] = sort_link
