"""The custom fields' screens a benchmark measures (bench.screens; `--only fields` measures just these).

Issue 23 point 6: a custom field's screens keep p95 under 50 ms at scale 1. The bench instance's
fields are customers.tier (choice) and activities.follow_note (text); a field the instance does
not have is skipped. Each URL shows, filters, sorts or searches by the field itself.
"""
from __future__ import annotations

import urllib.parse
from typing import Any, Callable

# (table, column, list path, list view, a filter value, a quick-search word)
FIELDS = [("customers", "tier", "/customers/", "CustomerView", "gold", "gold"),
          ("activities", "follow_note", "/activities/", "ActivityView", "renewal", "renewal")]
BASE_COLUMNS = {"customers": "name,industry,location", "activities": "subject,type,activity_date"}
KEYS = {"customers": "customer_id", "activities": "activity_id"}


def view_of(app: Any, view_name: str) -> Any:
    return next(v for v in app.appbuilder.baseviews if type(v).__name__ == view_name)


def filter_kinds(app: Any, view_name: str, column: str) -> list[str]:
    """The class names of a list column's filters, in FAB's numbering (`_flt_<index>_<column>`)."""
    return [type(f).__name__ for f in view_of(app, view_name)._filters._search_filters[column]]


def fab_filter(app: Any, view_name: str, column: str, value: str) -> str:
    """`_flt_<index>_<column>=<value>`: the column's "equal" filter (FAB numbers a column's filters)."""
    kinds = filter_kinds(app, view_name, column)
    index = next((i for i, kind in enumerate(kinds) if kind.startswith("FilterEqual")), 0)
    return f"_flt_{index}_{column}={urllib.parse.quote(value)}"


def field_urls(app: Any, scalar: Callable[[str], Any], counts: dict[str, int]) -> list[tuple[str, str, str]]:
    """(label, url, rows involved) of each custom field's list (column chosen, filtered, sorted, searched),
    show and edit screens; sorted only by a field the list may sort by."""
    urls = []
    for table, column, path, view, value, word in FIELDS:
        if not scalar(f"SELECT count(*) FROM custom_fields WHERE table_name = '{table}' "
                      f"AND column_name = '{column}' AND state = 'active'"):
            continue
        total = f"{counts[table]:,}"
        filled = scalar(f"SELECT count({column}) FROM {table}")
        typical = scalar(f"SELECT {KEYS[table]} FROM {table} ORDER BY {KEYS[table]} LIMIT 1 "
                         f"OFFSET {counts[table] // 2}")
        field = f"{table}.{column}"
        urls += [
            (f"{path} list, {column} column chosen ({field} filled in {filled:,} rows)",
             f"{path}list/?cols={BASE_COLUMNS[table]},{column}", total),
            (f"{path} list, filtered by {column} = {value}", f"{path}list/?{fab_filter(app, view, column, value)}",
             f"{scalar(f'SELECT count(*) FROM {table} WHERE {column} = ' + repr(value))} of {total}"),
        ]
        if column in view_of(app, view).order_columns:  # offered only when a B-tree leads with it
            urls.append((f"{path} list, sorted by {column}", f"{path}list/?_oc_{view}={column}&_od_{view}=asc",
                         total))
        urls += [
            (f"{path} list, quick search ?q={word} (searches {column})", f"{path}list/?q={word}", total),
            (f"{path} show, typical row (with {column})", f"{path}show/{typical}", "1"),
            (f"{path} edit form (with {column})", f"{path}edit/{typical}", "1"),
        ]
    return urls
