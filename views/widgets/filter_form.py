"""FAB's filter form on list pages, rendered once per screen and language, its active filters filled in per request.

The form's HTML (every searchable column's field and its filter choices, as JSON for
FAB's script) is the same for every user of a screen: FAB renders the fields of an empty
search form. Only the active filters differ, one JSON value for the script, which is kept
as a placeholder and filled in on use. A filter on a related row is the exception: its field
offers the rows filtered on, by name (app/crud/forms.py, AjaxFilterWidget), so FAB renders it.
Building the form was a noticeable share of a list page's time, a filtered one's too
(docs/performance.md); FAB's form itself is built only when it is rendered (DeferredSearchForm).
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_appbuilder.widgets import SearchWidget
from flask_babel import get_locale
from jinja2.utils import htmlsafe_json_dumps
from werkzeug.local import LocalProxy

from app.fields.refresh import GENERATION
from app.web.fragments import Fragments

ACTIVE_FILTERS = "crm-active-filters-placeholder"  # a JSON string in the kept form; never a filter's value


def _tojson(value: Any) -> str:
    """`value` as the template's `tojson` filter writes it."""
    policies = current_app.jinja_env.policies
    return htmlsafe_json_dumps(value, dumps=policies["json.dumps_function"], **policies["json.dumps_kwargs"])


class CachedSearchWidget(SearchWidget):
    _forms: Fragments[Any] = Fragments()  # (screen, excluded columns, language) -> HTML

    def __call__(self, **kwargs: Any):
        if kwargs or any(self.filters.datamodel.is_relation(flt.column_name)
                         for flt, _value in self.filters.get_filters_values()):
            return super().__call__(**kwargs)
        key = (self.template_args["route_base"], tuple(self.template_args.get("exclude_cols") or ()),
               str(get_locale()), GENERATION["mapped"])  # the columns' generation: custom fields
        form = self._forms.get(key, self._render_form)
        return form.replace(_tojson(ACTIVE_FILTERS), _tojson(self.filters.get_filters_values_tojson()))

    def _render_form(self):
        """FAB's SearchWidget rendering, with the placeholder for the active filters."""
        values = self.filters.get_filters_values_tojson
        self.filters.get_filters_values_tojson = lambda: ACTIVE_FILTERS  # read once, by super().__call__
        try:
            return super().__call__()
        finally:
            del self.filters.get_filters_values_tojson
            assert self.filters.get_filters_values_tojson == values


class DeferredSearchForm:
    """FAB's filter form class, its `refresh()` (called by every list page) building the form on first use.

    FAB builds the form (every searchable column's field, a CSRF field) for the filter widget,
    which renders it only when it is not kept (a filter set, a new screen or language): most list
    pages never touch it. The proxy builds it, once, when the widget first reads it.
    """

    def __init__(self, form_class: Any) -> None:
        self.form_class = form_class

    def refresh(self, obj: Any = None) -> Any:
        built: list[Any] = []

        def form() -> Any:
            if not built:
                built.append(self.form_class.refresh(obj))
            return built[0]

        return LocalProxy(form)

    def __getattr__(self, name: str) -> Any:  # the form class's other attributes, as FAB would find them
        return getattr(self.form_class, name)

