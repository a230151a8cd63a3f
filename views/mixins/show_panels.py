"""Panels on a record's show page, below or instead of FAB's details: History, a lead's conversion, ...

A panel is a function `(view, pk, item, widgets)` that adds a widget for the view's
show template to place; a view lists its panels in `show_panels`.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import g
from flask_appbuilder.widgets import RenderTemplateWidget
from markupsafe import Markup, escape

from app.audit.history import describe, record_history
from app.audit.sentences import describe_in_words, history_rows, page_names
from app.lists.links import EQ, list_url
from app.security.amounts import amounts_readable

LOG_VIEW = "LogView"
ShowPanel = Callable[[Any, Any, Any, dict], None]


class HistoryWidget(RenderTemplateWidget):
    template = "crm/history.html"


class LogDescription:
    """The log list's description: a record's changes in words, other events as logged.

    `prepare` reads the related names of the whole page first (CrmModelView calls it with the
    column's values), so a page costs one query per related table, not one per row."""

    def prepare(self, texts: list[str | None]) -> None:
        g.crm_log_names = page_names(texts)

    def __call__(self, text: str | None) -> Markup:
        lines = describe_in_words(text, amounts_readable, g.get("crm_log_names"))
        return describe(text) if lines is None else Markup("<br>").join(escape(line) for line in lines)


log_description = LogDescription()


def history_panel(view: Any, pk: Any, item: Any, widgets: dict) -> None:
    """The record's own log entries in words (for users who may read logs)."""
    if view.appbuilder.sm.has_access("can_list", LOG_VIEW):
        table = view.datamodel.obj.__tablename__
        rows = history_rows(record_history(table, pk), table, amounts_readable(table))
        widgets["history"] = HistoryWidget(
            entries=rows, table=table, record_key=str(pk),
            all_url=list_url("/logs", ("table_name", EQ, table), ("record_key", EQ, str(pk))))


class ShowPanelsMixin:
    """Adds the widgets of `show_panels` to FAB's show page (the CRM tables, users and roles)."""

    show_template = "crm/show.html"
    show_panels: tuple[ShowPanel, ...] = (history_panel,)

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        # FAB's one step of a show page that has the row at hand; no public hook adds a widget there
        widgets = super()._get_show_widget(pk, item, widgets, actions, show_fieldsets)
        for panel in self.show_panels:
            panel(self, pk, item, widgets)
        return widgets
