"""FAB's filter form on list pages, rendered once per screen and language while no filter is set.

The form's HTML (every searchable column's field and its filter choices, as JSON for
FAB's script) is the same for every user of a screen; only active filters change it.
Building it took about a tenth of a list page.
"""
from __future__ import annotations

from typing import Any

from flask_appbuilder.widgets import SearchWidget
from flask_babel import get_locale


class CachedSearchWidget(SearchWidget):
    _forms: dict[tuple, Any] = {}  # (screen, excluded columns, language) -> HTML; a few dozen entries

    def __call__(self, **kwargs: Any):
        if kwargs or self.filters.get_filters_values():
            return super().__call__(**kwargs)
        key = (self.template_args["route_base"], tuple(self.template_args.get("exclude_cols") or ()),
               str(get_locale()))
        html = self._forms.get(key)
        if html is None:
            html = self._forms[key] = super().__call__()
        return html
