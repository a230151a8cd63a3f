"""Screens and APIs derived again when their tables' columns change (custom fields), with no restart.

The factory hands `rederive_app` to app/fields/refresh.py, which calls it when the schema
version changed. A registered view keeps its routes, permissions and menu (they name the
view, not its columns); what FAB built from the columns in its constructor (labels, filters,
forms, the API's marshmallow schemas) is built again by FAB's own steps of that constructor,
after the class's derived attributes were derived again from the model (app/crud/derive.py).
"""
from __future__ import annotations

from typing import Any

from flask import Flask

from app.crud.derive import DERIVED_ATTRIBUTES, rederive_view
from app.fields.reflect import MODELS
from views.api import CrmRestApi, api_attributes
from views.tables.model_view import CrmModelView

# what a screen's constructor kept on the instance from the derived attributes, and its forms
SCREEN_STATE = (*DERIVED_ATTRIBUTES, "add_form", "edit_form", "search_form")
# what an API's constructor and blueprint kept on the instance from the columns, and the checks of
# its `q` argument (app/crud/query_args.py: their enums name the columns)
API_STATE = ("datamodel", "list_columns", "show_columns", "add_columns", "edit_columns", "order_columns",
             "search_columns", "validators_columns", "label_columns", "description_columns",
             "list_select_columns", "show_select_columns", "list_model_schema", "add_model_schema",
             "edit_model_schema", "show_model_schema", "model2schemaconverter", "crm_q_validators")


def refresh_screen(view: CrmModelView) -> None:
    """Derive a registered screen again from its model."""
    rederive_view(type(view))
    for key in SCREEN_STATE:
        view.__dict__.pop(key, None)
    view._init_properties()
    view._init_forms()
    view._init_titles()


def refresh_api(api: CrmRestApi) -> None:
    """Derive a registered API again from its model (columns, rules, schemas)."""
    cls: Any = type(api)
    for key, value in api_attributes(cls.model).items():
        setattr(cls, key, value)
    for key in API_STATE:
        api.__dict__.pop(key, None)
    api._init_properties()
    api._init_titles()
    api.validators_columns = api.validators_columns or {}
    api.model2schemaconverter = cls.model2schemaconverter(api.datamodel, api.validators_columns)
    api._init_model_schemas()


def rederive_app(app: Flask) -> None:
    """Every screen and API of the CRM tables of `app`, derived again."""
    models = set(MODELS.values())
    for view in app.appbuilder.baseviews:
        if isinstance(view, CrmModelView) and view.model in models:
            refresh_screen(view)
        elif isinstance(view, CrmRestApi):
            refresh_api(view)
