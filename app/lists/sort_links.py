"""A list header's sort links: FAB's `link_order` URL built once per page, not once per column.

FAB's filter copies the request's arguments and builds the URL through the router for each
sortable column (a list has six to ten); the URLs differ only in the column named in
`_oc_<View>`. The URL is built once with a placeholder in its place, which each plain column
name (letters, digits, `_`: the same in a URL) replaces; any other name goes through FAB's filter.
"""
from __future__ import annotations

import re

from flask import Flask, current_app, g

PLACEHOLDER = "crm0sorted0column"
PLAIN = re.compile(r"[A-Za-z0-9_]+")
MEMO = "crm_sort_links"  # flask.g: view name -> the URL with PLACEHOLDER


def sort_link(column: str, view: str) -> str:
    """FAB's `column | link_order(view)`: this page's URL sorted by `column` (the direction toggled)."""
    link_order = current_app.jinja_env.filters["link_order"]
    if not PLAIN.fullmatch(column):
        return link_order(column, view)
    memo = g.setdefault(MEMO, {})
    url = memo.get(view)
    if url is None:
        url = memo[view] = link_order(PLACEHOLDER, view)
    if url.count(PLACEHOLDER) != 1:  # the placeholder also in the page's own arguments
        return link_order(column, view)
    return url.replace(PLACEHOLDER, column)


def init_sort_links(app: Flask) -> None:
    app.jinja_env.globals["crm_sort_link"] = sort_link
