"""A list's search box (`?q=`), its active filters as removable chips, and record pages that act.

CrmModelView takes this mixin; crm/list.html includes crm/list_search.html (the box and the
chips) and crm/show.html, crm/customer_show.html include crm/record_actions.html (Edit, Delete).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import quote, urlsplit

from flask import redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from markupsafe import Markup
from sqlalchemy import false

from app.crud.dependents import dependent_counts, refusal
from app.crud.forms import local_path
from app.i18n.translations import gettext as _  # the request's translations looked up once
from app.models.searchable import is_custom, title_columns
from app.search.quick import ARG, QuickSearchFilter, searchable
from app.search.text import MAX_QUERY, normalize

FILTER_ARG = re.compile(r"_flt_(\d)_(.+)")  # FAB's list filter arguments
PK_MAX = 2**31 - 1
# how a chip says each FAB operator (FAB's own names read as headings: "Equal to", "Relation")
OPERATORS = {
    "ct": _l("contains"), "mw": _l("matches words"), "eq": _l("is"), "neq": _l("is not"),
    "rel_o_m": _l("is"), "nrel_o_m": _l("is not"), "gt": _l("greater than"), "lt": _l("less than"),
    "team": _l("is in team"), "sw": _l("starts with"), "ew": _l("ends with"), "nct": _l("does not contain"), "in": _l("is one of"),
}

# a record in a sentence ("Delete customer “Acme Ltd”?"); a screen's title is a heading ("客户详情")
RECORD_NAMES = {
    "customers": lazy_pgettext("record", "customer"), "contacts": lazy_pgettext("record", "contact"),
    "leads": lazy_pgettext("record", "lead"), "opportunities": lazy_pgettext("record", "opportunity"),
    "activities": lazy_pgettext("record", "activity"),
    "service_tickets": lazy_pgettext("record", "service ticket"),
    "reports": lazy_pgettext("record", "report"),
}


@dataclass
class Chip:
    label: str
    operator: str
    value: str
    remove: str  # this list's URL without the condition


def _url(args: list[tuple[str, str]]) -> str:
    return url_for(request.endpoint, **(request.view_args or {})) + (
        "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in args) if args else "")


def _quote(text: str) -> str:
    return quote(text, safe="")


class ListSearchMixin:
    """A list's quick search box (`?q=`) and its active filters as chips with "clear all"."""

    quick_search_exact: tuple[str, ...] = ()  # columns matched exactly (tables without search indexes)
    quick_search_labels: Callable[[], Mapping[str, Mapping[str, str]]] | None = None  # column -> value -> label
    quick_search_scan: tuple[str, ...] = ()  # columns of a small table matched by substring without an index

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extra_args = {**(self.extra_args or {}), "list_search": self.list_search}

    # ---------------------------------------------------------------- search
    def quick_search_columns(self) -> tuple[str, ...]:
        """The columns searched by substring through their indexes (not those matched by label)."""
        model = self.datamodel.obj
        custom = [c.name for c in model.__table__.columns if is_custom(c)]  # custom text fields, shown or not
        labelled = self.quick_search_labels() if self.quick_search_labels else {}
        columns = [c for c in dict.fromkeys([*self.list_columns, *title_columns(model), *custom]) if c not in labelled]
        return searchable(model, tuple(columns))

    def quick_search_filter(self) -> QuickSearchFilter | None:
        """The list's `?q=` as a filter; None where the list has nothing to search."""
        columns = self.quick_search_columns()
        if not self.searchable_list():
            return None
        labels = type(self).quick_search_labels
        kind = QuickSearchFilter.scanning(self.quick_search_scan) if self.quick_search_scan else QuickSearchFilter
        return kind(self.datamodel.get_pk_name(), self.datamodel, columns, self.quick_search_exact,
                    labels() if labels else None)

    def searchable_list(self) -> bool:
        """Whether the list has anything for its search box to search."""
        return bool(self.quick_search_columns() or self.quick_search_exact or self.quick_search_labels
                    or self.quick_search_scan)

    def with_quick_search(self, filters: Any) -> Any:
        """`filters` (a list's joined filters) with the request's `?q=` among them."""
        query = normalize(request.args.get(ARG))
        flt = self.quick_search_filter() if query else None
        if flt is None:
            return filters
        filters.filters.append(flt)
        filters.values.append(query)
        return filters

    def quick_search_query(self, query: Any, text: str) -> Any:
        """`query` narrowed by the quick search `text`, as the list narrows its rows (bulk "all matching")."""
        flt = self.quick_search_filter()
        if flt is None:  # nothing to search: match nothing rather than more than the list showed
            return query.filter(false())
        return flt.apply(query, normalize(text))

    # ---------------------------------------------------------------- the page
    def list_search(self) -> dict[str, Any]:
        """The search box, the active filters as chips, "clear all" (crm/list_search.html)."""
        name = type(self).__name__
        paging = {f"page_{name}", f"after_{name}", f"before_{name}", "after", "before"}
        args = [(k, v) for k, v in request.args.items(multi=True) if k not in paging]
        query = (request.args.get(ARG) or "")[:MAX_QUERY]
        chips = []
        for key, value in args:
            chip = self._chip(key, value)
            if chip:
                chip.remove = _url([a for a in args if a != (key, value)] or self.unfiltered_args())
                chips.append(chip)
        kept = [(k, v) for k, v in args if k != ARG and not FILTER_ARG.fullmatch(k)]
        return {
            "searchable": self.searchable_list(), "query": query, "action": _url([]),
            "hidden": [(k, v) for k, v in args if k != ARG], "chips": chips,
            "clear_url": _url(kept or self.unfiltered_args()) if chips else None,
            "switch": self.list_switch(),
            "placeholder": _("Search %(list)s", list=str(self.list_title).lower()
                             if str(self.list_title).isascii() else self.list_title),
        }

    def list_switch(self) -> list:
        """Choices shown above the chips ("Mine / My team / All": views/mixins/my_records.py); none here."""
        return []

    def unfiltered_args(self) -> list[tuple[str, str]]:
        """The arguments of this list without any filter: none (a list that opens filtered says how not to)."""
        return []

    def _chip(self, key: str, value: str) -> Chip | None:
        if value == "":
            return None
        if key == ARG:
            return Chip(_("Search"), "", normalize(value), "") if normalize(value) else None
        match = FILTER_ARG.fullmatch(key)
        if not match:
            return None
        index, column = int(match[1]), match[2]
        choices = self._filters.get_search_filters().get(column) or []
        if index >= len(choices):
            return None
        flt = choices[index]
        operator = OPERATORS.get(flt.arg_name, flt.name)
        shown = flt.shown(value) if hasattr(flt, "shown") else self._shown(column, value)  # a team, not a user
        return Chip(str(self.label_columns.get(column, column)), str(operator), shown, "")

    def _shown(self, column: str, value: str) -> str:
        """A filter's value as the list shows it: a related row by its name, a choice by its label."""
        datamodel = self.datamodel
        if datamodel.is_relation(column):
            if not value.isdigit() or int(value) > PK_MAX:
                return value
            row = datamodel.session.get(datamodel.get_related_model(column), int(value))
            if row is None:
                return value
            full_name = getattr(row, "get_full_name", None)  # a user (an owner) by name
            return full_name() if callable(full_name) else str(row)
        if datamodel.is_boolean(column):
            return _("Yes") if value.lower() in ("y", "1", "true", "on", "yes") else _("No")
        formatter = self.formatters_columns.get(column)
        if formatter is not None:
            try:
                shown = formatter(value)
            except (TypeError, ValueError, ArithmeticError):
                return value
            return str(shown) if not isinstance(shown, Markup) else shown.striptags()
        return value


class FabListSearchMixin(ListSearchMixin):
    """The search box and chips on a list FAB pages itself (the users and roles screens)."""

    list_template = "crm/list.html"

    def _get_list_widget(self, filters, **kwargs: Any):
        # FAB joins the list's filters inside it with no public hook between: hand it a copy with `?q=` among them
        return super()._get_list_widget(filters=self.with_quick_search(filters.copy()), **kwargs)


class QuickSearchMixin(ListSearchMixin):
    """The quick search and filter chips of a list, links to its records, and Edit / Delete on record pages."""

    # the list columns that open the record, those of them shown; else its title column
    link_columns: tuple[str, ...] | None = ("first_name", "last_name")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extra_args = {**self.extra_args, "record_actions": self.record_actions}

    # ---------------------------------------------------------------- rows
    def title_links(self) -> tuple[str, ...]:
        """The list's columns that link to the record: its title column(s) shown in the list."""
        shown = [c for c in (self.link_columns or ()) if c in self.list_columns]
        if shown:
            return tuple(shown)
        titles = [c for c in ("name", "subject", *title_columns(self.datamodel.obj)) if c in self.list_columns]
        return tuple(titles[:1]) or tuple(self.list_columns[:1])

    def row_extras(self, rows: list) -> dict[str, Any]:
        """What the rows show besides their values: the title links, each delete's confirmation."""
        return {"link_columns": self.title_links(), "confirms": self.delete_questions(rows)}

    def delete_questions(self, rows: list) -> Iterator[str]:
        """Each row's delete confirmation, made as read: only for rows with a delete button (app/lists/rows.py)."""
        table = self.datamodel.obj.__tablename__
        record = str(RECORD_NAMES[table]) if table in RECORD_NAMES else str(self.show_title).lower()
        question = _("Delete %(record)s “%(name)s”?", record=record, name="%(name)s")  # translated once
        for row in rows:
            yield question % {"name": str(row)}

    def pre_delete(self, item: Any) -> None:
        """Refuse, as an error naming what still depends on it, to delete a record others belong to."""
        counts = dependent_counts(item)
        if counts:
            raise ValueError(refusal(item, counts))  # FAB flashes it as "danger" and deletes nothing

    def post_delete_redirect(self):
        """Back where the delete was asked (the list with its filters, or the record page when refused);
        to the list when that was the deleted record's own page."""
        referrer = urlsplit(request.referrer or "")
        back = local_path(referrer.path) if referrer.netloc in ("", request.host) else None
        pk = (request.view_args or {}).get("pk")
        gone = self.datamodel.get(pk) is None
        own = {url_for(f"{self.endpoint}.{kind}", pk=pk) for kind in ("show", "edit")}
        if gone and (back is None or referrer.path in own):
            return redirect(url_for(f"{self.endpoint}.list"))
        if back is None:
            return super().post_delete_redirect()
        return redirect(f"{back}?{referrer.query}" if referrer.query else back)

    # ---------------------------------------------------------------- record pages
    def record_actions(self, pk: Any) -> dict[str, Any] | None:
        """Edit and Delete for a record page, where the role allows them (crm/record_actions.html)."""
        sm = self.appbuilder.sm
        permission = self.class_permission_name
        can_edit = "edit" not in self.exclude_route_methods and sm.has_access("can_edit", permission)
        can_delete = "delete" not in self.exclude_route_methods and sm.has_access("can_delete", permission)
        if not (can_edit or can_delete):
            return None
        item = self.datamodel.get(pk)
        if item is None:
            return None
        return {
            "edit": url_for(f"{self.endpoint}.edit", pk=pk) if can_edit else None,
            "delete": url_for(f"{self.endpoint}.delete", pk=pk) if can_delete else None,
            "confirm": next(self.delete_questions([item])),
        }
