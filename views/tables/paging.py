"""Paging of the list screens: FAB's page numbers near the start, keyset links at any depth.

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

A feed (the log, `ListPaging(feed="the log")`) is never counted and pages by
keyset only, newest first, with readable positions (`after=` / `before=`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from flask_appbuilder.widgets import ListWidget
from werkzeug.exceptions import BadRequest

from app.lists.counts import COUNT_CAP, AtLeastCount, EstimatedCount, first_page_counted
from app.lists.keyset import END, Cursor

WINDOW = 2  # page numbers shown either side of the current one


class PagedListWidget(ListWidget):
    template = "crm/list_widget.html"


class FeedListWidget(ListWidget):
    """A never-counted list: Newest / Newer / Older instead of page numbers."""

    template = "crm/keyset_list.html"


@dataclass
class Pager:
    first: str | None = None
    previous: str | None = None
    next: str | None = None
    last: str | None = None
    numbers: list[tuple[int, str | None]] | None = None  # (page index, url or None for the current)
    page: int | None = None  # index of this page when known
    pages: int | None = None  # number of pages when the count is exact


@dataclass
class ListPage:
    rows: list
    count: int  # for a never-counted list, the rows shown
    page: int | None  # FAB's page index, when known
    pager: Pager


def exact(count: int) -> bool:
    return not isinstance(count, (AtLeastCount, EstimatedCount))


@dataclass(frozen=True)
class ListPaging:
    """How a list screen pages (CrmModelView.paging): counted, numbered and keyset pages in any sort,
    or, for a feed, keyset pages only.

    A feed ("the log", the name its errors use) is read in its base order only, newest first by
    time, and never counted: no COUNT, no OFFSET, no page numbers; its positions are readable
    (`after=2026-01-31T09:00:00~42`).
    """

    feed: str = ""

    def arguments(self, view: str) -> tuple[str, str]:
        """The URL arguments of the positions after / before which a page is read."""
        return ("after", "before") if self.feed else (f"after_{view}", f"before_{view}")

    def cursor(self, text: str | None, order: str, python_type: type) -> Cursor | None:
        """The position in `text`; None when there is none (or it is `end`: the last page); 400 when malformed."""
        try:
            if self.feed:
                return Cursor.parse(text, order, self.feed)
            if not text or text == END:
                return None
            return Cursor.decode(text, python_type, order)  # None when made for another sort: the page number
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    def page(self, view: Any, filters: Any, order_column: str, order_direction: str, page: int | None,
             page_size: int) -> ListPage:
        """The rows of this request's page of `view`'s list under `filters` (base filters joined in)."""
        name = type(view).__name__
        datamodel = view.datamodel
        if self.feed or not order_column:  # a feed is read in one order, whatever the sort arguments say
            order_column, order_direction = view.base_order or (datamodel.get_pk_name(), "asc")
        descending = order_direction != "asc"
        order = f"{order_column} {'desc' if descending else 'asc'}"
        kind = datamodel.cursor_type(order_column)
        after_arg, before_arg = self.arguments(name)
        after = self.cursor(request.args.get(after_arg), order, kind)
        before = self.cursor(request.args.get(before_arg), order, kind)
        last = not self.feed and request.args.get(before_arg) == END
        first = not (after or before or last or self.feed or page)
        if first:  # its rows and the count in one statement
            rows, more, count = first_page_counted(datamodel, filters, order_column, order_direction, page_size)
        else:
            count = 0 if self.feed else datamodel.query_count(
                datamodel.session.query(datamodel.obj), filters, order_column=order_column)
        pages = max(1, math.ceil(count / page_size)) if not self.feed and exact(count) else None
        if last and pages:  # a counted list's last page is its last numbered page, as FAB's
            last, page = False, pages - 1
        if after or before or last or self.feed:
            result = datamodel.keyset(filters, order_column, descending, page_size,
                                      after=after, before=before, last=last)
            rows, following, preceding = result.rows, result.next, result.previous
        else:
            page = page or 0
            if not first:
                rows, more = datamodel.page_rows(filters, order_column, order_direction, page, page_size,
                                                 count if exact(count) else None)
            position = [Cursor(order, getattr(r, order_column), getattr(r, datamodel.get_pk_name()))
                        for r in rows[:1] + rows[-1:]]
            following = position[-1] if more and rows else None
            preceding = position[0] if page > 0 and rows else None
        if self.feed:
            return ListPage(rows, len(rows), None, self._feed_pager(name, following, preceding,
                                                                     bool(after or before)))
        return ListPage(rows, count, page, self._pager(name, page, pages, following, preceding, count,
                                                       page_size, last))

    def _url(self, view: str, **changes: Any) -> str:
        """This request's URL with the view's paging arguments replaced by `changes`."""
        args = request.args.to_dict(flat=False)
        for name in (f"page_{view}", *self.arguments(view)):
            args.pop(name, None)
        after, before = self.arguments(view)
        names = {"after": after, "before": before, "page": f"page_{view}"}
        args.update({names[name]: value for name, value in changes.items() if value is not None})
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    def _feed_pager(self, view: str, older: Cursor | None, newer: Cursor | None, moved: bool) -> Pager:
        return Pager(first=self._url(view) if moved else None,
                     previous=self._url(view, before=str(newer)) if newer else None,
                     next=self._url(view, after=str(older)) if older else None)

    def _pager(self, view: str, page: int | None, pages: int | None, following: Cursor | None,
               preceding: Cursor | None, count: int, page_size: int, last: bool) -> Pager:
        pager = Pager(page=page, pages=pages)
        at_start = page == 0 or (page is None and preceding is None)
        if not at_start:
            pager.first = self._url(view)
        if preceding is not None:
            pager.previous = self._url(view) if page == 1 else self._url(
                view, before=preceding.encode(), page=page - 1 if page else None)
        if following is not None:
            pager.next = self._url(view, after=following.encode(), page=page + 1 if page is not None else None)
            pager.last = self._url(view, before=END)
        if page is not None and count:
            counted = count.known if isinstance(count, AtLeastCount) else COUNT_CAP
            known = pages if pages else math.ceil(counted / page_size)  # numbers only while cheap
            low, high = max(0, page - WINDOW), min(known, page + WINDOW + 1)
            if low < high and (pages or page < known):
                pager.numbers = [(p, None if p == page else self._url(view, page=p)) for p in range(low, high)]
        return pager
