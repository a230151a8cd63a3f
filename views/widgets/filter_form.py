"""FAB's filter form on list pages, rendered once per screen and language while no filter is set.

The form's HTML (every searchable column's field and its filter choices, as JSON for
FAB's script) is the same for every user of a screen; only active filters change it.
Building it was a noticeable share of a list page's time (docs/performance.md).
"""
from __future__ import annotations

from typing import Any

from flask_appbuilder.widgets import SearchWidget
from flask_babel import get_locale

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
