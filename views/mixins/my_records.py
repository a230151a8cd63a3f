"""The owned tables' lists open on the user's own records, with a "Mine / My team / All" switch.

Rules: app/security/my_records.py (the choices the data scope allows, as list filters). The
switch renders above the filter chips (crm/list_search.html); a default view the user saved
still wins (SavedViewsMixin asks `opening_url` only without one).
"""
from __future__ import annotations

from flask import g, request

from app.security import my_records


class MyRecordsMixin:
    """Before SavedViewsMixin in the class's bases: it answers the mixin's `opening_url`."""

    def _table(self) -> str:
        return self.datamodel.obj.__tablename__

    def opening_url(self) -> str | None:
        return my_records.opening_url(self.route_base, self._table(), g.user)

    def list_switch(self) -> list[my_records.Choice]:
        name = type(self).__name__
        paging = {f"page_{name}", f"after_{name}", f"before_{name}", "after", "before", "sv"}
        return my_records.switch(self.route_base, self._table(), g.user, request.args.to_dict(flat=False), paging)

    def unfiltered_args(self) -> list[tuple[str, str]]:
        """Without filters, "All": the bare list would open on "Mine" again."""
        return [("view", "all")] if self.opening_url() else []
