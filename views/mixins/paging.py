"""Paging of every CRM list: FAB's page numbers near the start, keyset links at any depth.

FAB pages with OFFSET, which reads and throws away every row before the page:
page 20,000 of a million-row list reads 500,000 rows. Here:

- `page_<View>=N` (FAB's argument) still works; a deep N reads only keys
  (CrmInterface.page_rows).
- *Next* / *Previous* carry the position of the page's last / first row
  (`after_<View>=` / `before_<View>=`, for the current sort and filters) and
  read the adjacent page by keyset, as cheap on page 40,000 as on page 2.
- *Last* (`before_<View>=end`) is the last numbered page of a counted list
  (up to 10,000 rows); beyond, the end of the list read backwards.
- Page numbers are offered around the current page while they are cheap and known.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from flask_appbuilder.widgets import ListWidget
from werkzeug.exceptions import BadRequest

from app.lists.counts import COUNT_CAP, AtLeastCount, EstimatedCount
from app.lists.keyset import END, Cursor

WINDOW = 2  # page numbers shown either side of the current one


class PagedListWidget(ListWidget):
    template = "crm/list_widget.html"


@dataclass
class Pager:
    first: str | None = None
    previous: str | None = None
    next: str | None = None
    last: str | None = None
    numbers: list[tuple[int, str | None]] | None = None  # (page index, url or None for the current)
    page: int | None = None  # index of this page when known
    pages: int | None = None  # number of pages when the count is exact


def _url(view: str, **changes: Any) -> str:
    """This request's URL with the view's paging arguments replaced by `changes`."""
    args = request.args.to_dict(flat=False)
    for name in ("page", "after", "before"):
        args.pop(f"{name}_{view}", None)
    args.update({f"{name}_{view}": value for name, value in changes.items() if value is not None})
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def exact(count: int) -> bool:
    return not isinstance(count, (AtLeastCount, EstimatedCount))


class KeysetPagingMixin:
    """For model views over a CrmInterface datamodel; overrides FAB's list widget."""

    list_widget = PagedListWidget

    def _cursor(self, name: str, order: str, python_type: type) -> Cursor | None:
        text = request.args.get(name)
        if not text or text == END:
            return None
        try:
            return Cursor.decode(text, python_type, order)  # None when made for another sort: the page number
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    def _get_list_widget(self, filters, actions=None, order_column="", order_direction="",
                         page=None, page_size=None, widgets=None, **kwargs: Any):
        widgets = widgets or {}
        view = self.__class__.__name__
        if not order_column:
            order_column, order_direction = self.base_order or (self.datamodel.get_pk_name(), "asc")
        descending = order_direction != "asc"
        order = f"{order_column} {'desc' if descending else 'asc'}"
        page_size = page_size or self.page_size
        joined = filters.get_joined_filters(self._base_filters)
        kind = self.datamodel.cursor_type(order_column)
        after = self._cursor(f"after_{view}", order, kind)
        before = self._cursor(f"before_{view}", order, kind)
        last = request.args.get(f"before_{view}") == END
        count = self.datamodel.query_count(self.datamodel.session.query(self.datamodel.obj), joined)
        pages = max(1, math.ceil(count / page_size)) if exact(count) else None
        if last and pages:  # a counted list's last page is its last numbered page, as FAB's
            last, page = False, pages - 1
        if after or before or last:
            result = self.datamodel.keyset(joined, order_column, descending, page_size,
                                           after=after, before=before, last=last)
            rows, following, preceding = result.rows, result.next, result.previous
        else:
            page = page or 0
            rows, more = self.datamodel.page_rows(joined, order_column, order_direction, page, page_size)
            position = [Cursor(order, getattr(r, order_column), getattr(r, self.datamodel.get_pk_name()))
                        for r in rows[:1] + rows[-1:]]
            following = position[-1] if more and rows else None
            preceding = position[0] if page > 0 and rows else None
        pager = self._pager(view, page, pages, following, preceding, count, page_size, last)
        widgets["list"] = self.list_widget(
            label_columns=self.label_columns, include_columns=self.list_columns,
            value_columns=self.datamodel.get_values(rows, self.list_columns),
            order_columns=self.order_columns, formatters_columns=self.formatters_columns,
            page=page, page_size=page_size, count=count, pks=self.datamodel.get_keys(rows),
            actions=actions or self.actions, filters=filters, modelview_name=view, pager=pager, **kwargs)
        return widgets

    def _pager(self, view: str, page: int | None, pages: int | None, following: Cursor | None,
               preceding: Cursor | None, count: int, page_size: int, last: bool) -> Pager:
        pager = Pager(page=page, pages=pages)
        at_start = page == 0 or (page is None and preceding is None)
        if not at_start:
            pager.first = _url(view)
        if preceding is not None:
            pager.previous = _url(view) if page == 1 else _url(
                view, before=preceding.encode(), page=page - 1 if page else None)
        if following is not None:
            pager.next = _url(view, after=following.encode(), page=page + 1 if page is not None else None)
            pager.last = _url(view, before=END)
        if page is not None and count:
            counted = count.known if isinstance(count, AtLeastCount) else COUNT_CAP
            known = pages if pages else math.ceil(counted / page_size)  # numbers only while cheap
            low, high = max(0, page - WINDOW), min(known, page + WINDOW + 1)
            if low < high and (pages or page < known):
                pager.numbers = [(p, None if p == page else _url(view, page=p)) for p in range(low, high)]
        return pager
