"""The top bar's menu, rendered once per set of permissions and language, not on every page.

FAB renders the menu on every page, asking has_access for each entry: a sizeable share of a
list page's time (docs/performance.md). The HTML depends only on what the user's roles may
see and on the language, so it is kept per (permission set, language). The key is the
permission set itself, read from the database on every request anyway: a role change shows
at once, and each app server keeps its own copy (nothing to share between servers).
"""
from __future__ import annotations

from flask import Flask, current_app, render_template
from flask_babel import get_locale
from markupsafe import Markup

from app.web.fragments import Fragments

_menus: Fragments[Markup] = Fragments()  # (permission set, language) -> the menu


def menu_html() -> Markup:
    """The menu's <li> entries for the current user."""
    appbuilder = current_app.appbuilder
    permissions = appbuilder.sm.current_permissions()
    render = lambda: Markup(render_template("appbuilder/navbar_menu.html", menu=appbuilder.menu))  # noqa: E731
    if permissions is None:  # signed out, or a role FAB decides by itself: as FAB does
        return render()
    return _menus.get((permissions, str(get_locale())), render)


def init_navbar(app: Flask) -> None:
    app.jinja_env.globals["crm_menu_html"] = menu_html
