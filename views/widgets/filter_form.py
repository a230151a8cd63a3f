"""FAB's filter form on list pages, rendered once per screen and language while no filter is set.

The form's HTML (every searchable column's field and its filter choices, as JSON for
FAB's script) is the same for every user of a screen; only active filters change it.
Building it was a noticeable share of a list page's time (docs/performance.md).
"""
from __future__ import annotations

from typing import Any

from flask_appbuilder.widgets import SearchWidget
from flask_babel import get_locale
from werkzeug.local import LocalProxy

from app.fields.refresh import GENERATION
from app.web.fragments import Fragments


class CachedSearchWidget(SearchWidget):
    _forms: Fragments[Any] = Fragments()  # (screen, excluded columns, language) -> HTML

    def __call__(self, **kwargs: Any):
        if kwargs or self.filters.get_filters_values():
            return super().__call__(**kwargs)
        key = (self.template_args["route_base"], tuple(self.template_args.get("exclude_cols") or ()),
               str(get_locale()), GENERATION["mapped"])  # the columns' generation: custom fields
        return self._forms.get(key, super().__call__)


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

