"""Registers every screen with Flask-AppBuilder (security screens: views/admin/security_screens.py)."""
from __future__ import annotations

from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from views.admin.fields import FieldsView
from views.admin.teams import TeamView
from views.admin.webhooks import WebhooksView
from views.api import APIS, CrmOpenApi
from views.pages.dashboard import DashboardView
from views.pages.operations import OperationsView
from views.pages.pipeline_board import PipelineView
from views.pages.search_page import SearchView
from views.tables.screens import MENU


def register_views(appbuilder: AppBuilder) -> None:
    for view, name, icon, category in MENU:
        appbuilder.add_view(view, name, icon=icon, category=category, label=_l(name),
                            category_label=_l(category))
    appbuilder.add_view(PipelineView, "Pipeline board", icon="fa-columns", category="Sales",
                        label=_l("Pipeline board"), category_label=_l("Sales"))
    appbuilder.add_view_no_menu(SearchView())
    appbuilder.add_view(DashboardView, "Dashboard", icon="fa-chart-line", category="Analytics",
                        label=_l("Dashboard"), category_label=_l("Analytics"))
    appbuilder.add_view(OperationsView, "Operations", icon="fa-heartbeat", category="Admin",
                        label=_l("Operations"), category_label=_l("Admin"))
    for api in APIS:
        appbuilder.add_api(api)
    appbuilder.add_view(TeamView, "Teams", icon="fa-people-group", category="Admin",
                        label=_l("Teams"), category_label=_l("Admin"))
    appbuilder.add_view(WebhooksView, "Webhooks", icon="fa-satellite-dish", category="Admin",
                        label=_l("Webhooks"), category_label=_l("Admin"))
    appbuilder.add_view(FieldsView, "Custom fields", icon="fa-table-columns", category="Admin",
                        label=_l("Custom fields"), category_label=_l("Admin"))
    appbuilder.add_api(CrmOpenApi)
