"""/search/?q=: the CRM-wide search page (and the top bar's search box posts here)."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.extensions import db
from app.search import service
from app.search.lookups import title_column
from app.search.service import ENTITIES, QueryError, search
from app.search.text import normalize
from views.tables.screens import MENU

# the model view whose can_list decides whether a user may see an entity's rows
LIST_VIEWS = {view.model: view for view, *_ in MENU}


class SearchView(BaseView):
    route_base = "/search"
    default_view = "search"

    @expose("/")
    @has_access
    def search(self):
        """Matches in every entity the user may list, grouped by entity, best first."""
        query = normalize(request.args.get("q"))
        allowed = [e for e in ENTITIES
                   if self.appbuilder.sm.has_access("can_list", LIST_VIEWS[e.model].__name__)]
        error, results = None, []
        try:
            results = search(db.session, query, allowed)
        except QueryError as exc:
            error = str(exc)
        list_filter = {e.model: self._title_filter(e) for e in allowed}
        return self.render_template("crm/search.html", query=query, results=results, error=error,
                                    searched=[_(e.label) for e in allowed], list_filter=list_filter,
                                    timeout_seconds=f"{service.SEARCH_TIMEOUT_MS / 1000:g}")

    def _title_filter(self, entity) -> str:
        """URL of the entity's list filtered on its title column ("contains" is filter 0)."""
        return f"{entity.route}/list/?_flt_0_{title_column(entity)}="
