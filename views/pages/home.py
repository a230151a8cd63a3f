"""The home page: the screens this user may open, grouped as in the menu."""
from __future__ import annotations

from flask_appbuilder import IndexView, expose

from app.web.home_tiles import about, tiles
from views.tables.screens import MENU


class HomeView(IndexView):
    index_template = "crm/home.html"

    @expose("/")
    def index(self):
        self.update_redirect()
        return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                    tiles=tiles(MENU), about=about)
