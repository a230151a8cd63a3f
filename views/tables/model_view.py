"""CrmModelView: a FAB ModelView whose configuration is derived from its model (`@derived_from`)."""
from __future__ import annotations

import sys
from typing import Any

from flask import g, jsonify, redirect, request, session
from flask_babel import gettext as _
from flask_appbuilder import ModelView, expose
from flask_appbuilder.security.decorators import has_access, has_access_api, permission_name

from app.crud.refusals import UserFacingError
from app.crud.forms import local_path
from app.crud.lookups import lookup_options, team_options, user_options
from views.mixins.actions import ActionGuardMixin
from views.mixins.csv_tools import csv_tools, export_csv
from views.mixins.quick_search import QuickSearchMixin
from views.mixins.show_panels import ShowPanelsMixin
from views.tables.paging import ListPaging, PagedListWidget
from views.widgets.add_form import PrefilledFormWidget
from views.widgets.filter_form import CachedSearchWidget, DeferredSearchForm


class CrmModelView(QuickSearchMixin, ActionGuardMixin, ShowPanelsMixin, ModelView):
    """A FAB ModelView configured from its model by the decorator at its class.

    `@derived_from(Customer)` (app/crud/derive.py) sets `model` and fills in, unless the
    class declares it itself: datamodel (a CrmInterface), route_base, list_title,
    show_title, add_title, edit_title, formatters_columns, list_columns, show_columns,
    add_columns, edit_columns, search_columns, order_columns, description_columns,
    search_form_extra_fields, label_columns, validators_columns, add_form_extra_fields,
    edit_form_extra_fields. `flask --app run crm describe-view Customers` prints them.

    Besides FAB's: keyset paging (`paging`), panels on show pages (`show_panels`),
    CSV export, related rows chosen from the URL on the add form, and /lookup/ for AJAX selects.
    """

    model: type | None = None
    derived_attributes: tuple[str, ...] = ()  # those filled in by derived_from
    page_size = 25
    search_widget = CachedSearchWidget
    list_template = "crm/list.html"
    list_widget = PagedListWidget
    add_widget = PrefilledFormWidget
    paging = ListPaging()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extra_args = {**self.extra_args, "csv_tools": lambda: csv_tools(self)}  # called by crm/list.html

    @property
    def database_error_message(self) -> str:  # type: ignore[override]
        """The refusal's own message: FAB's edit reads this in the `except` block of the datamodel's error."""
        handled = sys.exception()
        if isinstance(handled, UserFacingError):  # raised by CrmInterface.edit with a readable message
            return str(handled)
        return _("The database refused the change; nothing was saved.")

    def shown_columns(self) -> list[str]:
        """The columns this request's list shows (SavedViewsMixin: the user's choice)."""
        return self.list_columns

    def update_redirect(self) -> None:
        """FAB's page history, left alone when this page is already its last entry.

        FAB's push would not add it again, but assigning the history marked the session changed:
        its cookie was serialized, signed and sent again on every reload of a page.
        """
        history = session.get("page_history")
        if not history or history[-1] != request.url:
            super().update_redirect()

    def _init_forms(self) -> None:
        """FAB's forms; the filter form built only when its widget renders it (DeferredSearchForm)."""
        super()._init_forms()
        if self.search_form is not None and not isinstance(self.search_form, DeferredSearchForm):
            self.search_form = DeferredSearchForm(self.search_form)

    def _get_list_widget(self, filters, actions=None, order_column="", order_direction="",
                         page=None, page_size=None, widgets=None, **kwargs: Any):
        # FAB reads every list page by OFFSET after an exact COUNT(*), with no public hook between
        widgets = widgets or {}
        page_size = page_size or self.page_size
        joined = self.with_quick_search(filters.get_joined_filters(self._base_filters))  # and the list's ?q=
        result = self.paging.page(self, joined, order_column,
                                  order_direction, page, page_size)
        columns = self.shown_columns()
        values = list(self.datamodel.get_values(result.rows, columns))  # a generator: read twice
        self.prepare_formatters(values, columns)
        widgets["list"] = self.list_widget(
            label_columns=self.label_columns, include_columns=columns,
            value_columns=values,
            order_columns=[] if self.paging.feed else self.order_columns,  # a feed has no sort links
            formatters_columns=self.formatters_columns,
            page=result.page, page_size=page_size, count=result.count, pks=self.datamodel.get_keys(result.rows),
            actions=actions or self.actions, filters=filters, modelview_name=self.__class__.__name__,
            pager=result.pager, **self.row_extras(result.rows), **kwargs)
        return widgets

    def prepare_formatters(self, values: list[dict], columns: list[str]) -> None:
        """A formatter with a `prepare(values)` gets its column's values of the page before any row is
        formatted (to read what the rows name in one query, not one per row)."""
        for column in columns:
            prepare = getattr(self.formatters_columns.get(column), "prepare", None)
            if prepare is not None:
                prepare([row[column] for row in values])

    def post_add_redirect(self):
        """`add?next=/customers/show/5` returns there after saving (only a path on this site)."""
        target = local_path(request.args.get("next"))
        return redirect(target) if target else super().post_add_redirect()

    @expose("/export/")
    @has_access
    @permission_name("export")
    def export(self):
        """GET <list>/export/?<the list's arguments>: the filtered, ordered list as CSV (can_export)."""
        return export_csv(self)

    @expose("/lookup/")
    @has_access_api
    @permission_name("list")
    def lookup(self):
        """Up to 20 rows matching ?q=, narrowed by ?customer= and the like (app/crud/lookups.py), for select2."""
        return jsonify(results=lookup_options(self.model, request.args))

    @expose("/lookup/users/")
    @has_access_api
    @permission_name("list")
    def lookup_users(self):
        """Up to 20 active users matching ?q=, for an owner or leader select (who may list may choose)."""
        return jsonify(results=user_options(request.args))

    @expose("/lookup/teams/")
    @has_access_api
    @permission_name("list")
    def lookup_teams(self):
        """Up to 20 teams matching ?q=, for the owner filter "is in team" (who may list may filter)."""
        return jsonify(results=team_options(request.args))

    def pre_add(self, item: Any) -> None:
        """A record added without an owner is owned by its creator (as the database's default would)."""
        super().pre_add(item)
        if "owner_id" in self.model.__table__.columns and item.owner_id is None and item.owner is None:
            item.owner_id = g.user.user_id
