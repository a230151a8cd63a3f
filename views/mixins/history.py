"""View mix-ins of the audit log: a History panel on show pages, keyset paging on /logs/."""
from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask_appbuilder.widgets import ListWidget, RenderTemplateWidget
from werkzeug.exceptions import BadRequest

from app.audit.history import Cursor, record_history
from app.lists.links import EQ, list_url

LOG_VIEW = "LogView"
CURSOR_ARGS = ("after", "before")


class HistoryWidget(RenderTemplateWidget):
    template = "crm/history.html"


class KeysetListWidget(ListWidget):
    template = "crm/keyset_list.html"


class HistoryMixin:
    """Adds the record's own log entries under its show page (for users who may read logs)."""

    show_template = "crm/show.html"
    history = True

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        widgets = super()._get_show_widget(pk, item, widgets, actions, show_fieldsets)
        if self.history and self.appbuilder.sm.has_access("can_list", LOG_VIEW):
            table = self.datamodel.obj.__tablename__
            widgets["history"] = HistoryWidget(
                entries=record_history(table, pk), table=table, record_key=str(pk),
                all_url=list_url("/logs", ("table_name", EQ, table), ("record_key", EQ, str(pk))))
        return widgets


class ReadOnlyMixin:
    """No add, edit, delete, download or action routes at all (not merely forbidden)."""

    exclude_route_methods = {"add", "edit", "delete", "download", "action", "action_post"}
    base_permissions = ["can_list", "can_show", "can_export"]


def _page_url(**cursor: str) -> str:
    args = request.args.to_dict(flat=False)
    for name in CURSOR_ARGS:
        args.pop(name, None)
    return url_for(request.endpoint, **request.view_args, **args, **cursor)


class KeysetListMixin:
    """FAB's list with keyset paging: no OFFSET, no COUNT(*); 'Newer' / 'Older' links.

    The datamodel provides `keyset_page(filters, after, before, page_size)`.
    """

    list_widget = KeysetListWidget
    order_columns: list[str] = []

    def _get_list_widget(self, filters, actions=None, order_column="", order_direction="",
                         page=None, page_size=None, widgets=None, **kwargs: Any):
        widgets = widgets or {}
        try:
            after, before = (Cursor.parse(request.args.get(name)) for name in CURSOR_ARGS)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        page_size = page_size or self.page_size
        result = self.datamodel.keyset_page(filters.get_joined_filters(self._base_filters),
                                            after, before, page_size)
        widgets["list"] = self.list_widget(
            label_columns=self.label_columns, include_columns=self.list_columns,
            value_columns=self.datamodel.get_values(result.rows, self.list_columns),
            order_columns=[], formatters_columns=self.formatters_columns, page=None,
            page_size=page_size, count=len(result.rows), pks=self.datamodel.get_keys(result.rows),
            actions=actions or self.actions, filters=filters, modelview_name=self.__class__.__name__,
            older_url=_page_url(after=str(result.older)) if result.older else None,
            newer_url=_page_url(before=str(result.newer)) if result.newer else None,
            first_url=_page_url() if (after or before) else None,
        )
        return widgets
