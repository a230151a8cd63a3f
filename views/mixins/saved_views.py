"""Column chooser and saved views on a list.

`?cols=name,industry,updated_at` shows those columns in that order (any of the model's
columns the role may read; an unknown one is a 400); sorting and keyset paging are the
list's own, whatever is shown. A saved view keeps the list's filters, sort, quick search `q`
and columns under a name (app/lists/saved_views.py), offered in the list's "Views" menu:
its link is the list's URL with those arguments and `sv=<id>`. A user's default view opens
when the list is opened with no argument at all; the menu's "All" (`?view=all`) escapes it.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode

from flask import abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access, has_access_api, permission_name
from flask_appbuilder.widgets import RenderTemplateWidget
from markupsafe import Markup
from sqlalchemy import Text, inspect
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest

from app.crud.derive import encrypted_and_bands
from app.extensions import db
from app.i18n.translations import gettext as _  # the request's translations looked up once
from app.lists import saved_views as store
from app.models import Role
from app.models.searchable import is_custom
from app.security.amounts import amounts_readable
from app.web.request_guard import problem_with_args

COLUMNS_ARG = "cols"


class SavedViewsWidget(RenderTemplateWidget):
    template = "crm/list_saved_views.html"


def choosable_columns(view: Any) -> list[str]:
    """The columns a user may pick, the list's own first: the model's columns and related rows."""
    table = inspect(view.datamodel.obj).local_table
    encrypted, _bands = encrypted_and_bands(table)
    hidden = set() if amounts_readable(table.name) else encrypted  # offered where the amounts show
    names = [*view.list_columns, *view.show_columns]
    return [n for i, n in enumerate(names) if n not in names[:i] and n not in hidden and n != "version"
            and not (n in table.columns and isinstance(table.columns[n].type, Text) and n not in view.list_columns
                     and n != "description" and not is_custom(table.columns[n]))]


def chosen_columns(view: Any, text: str | None) -> list[str]:
    """The columns named in `text` (comma-separated), checked; the list's own when empty."""
    if not text:
        return list(view.list_columns)
    names = [n.strip() for n in text.split(",")]
    allowed = set(choosable_columns(view))
    unknown = [n for n in names if n not in allowed]
    if unknown or len(set(names)) != len(names):
        raise BadRequest(_("Cannot show the column %(column)s.", column=repr((unknown or names)[0])))
    return names


def _user() -> tuple[int, int | None]:
    return g.user.user_id, getattr(g.user, "role_id", None)


def _name(text: str | None) -> str:
    name = " ".join((text or "").split())
    if not name or len(name) > store.NAME_MAX or any(ord(c) < 32 for c in name):
        raise BadRequest(_("A view needs a name of 1 to %(n)s characters.", n=store.NAME_MAX))
    return name


class SavedViewsMixin:
    """The "Views" menu, the column chooser and their routes (permission: the list's own)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extra_args = {**self.extra_args, "saved_views": lambda: self._saved_views_menu()}

    def shown_columns(self) -> list[str]:
        """The columns this request shows (CrmModelView's list widget asks)."""
        return chosen_columns(self, request.args.get(COLUMNS_ARG))

    @expose("/list/")
    @has_access
    def list(self):
        """FAB's list; with no argument at all, the user's default view."""
        if not request.args:
            found = store.default_for(*_user(), type(self).__name__)
            if found is not None:
                return redirect(self._view_url(found))
            opening = self.opening_url()
            if opening:
                return redirect(opening)
        return super().list()

    def opening_url(self) -> str | None:
        """Where this list opens without arguments and without a default view (MyRecordsMixin: "Mine")."""
        return None

    def _view_url(self, found: Any) -> str:
        args = {**found.args, "sv": [str(found.saved_view_id)]}
        if found.columns:
            args[COLUMNS_ARG] = [",".join(found.columns)]
        return url_for(f"{self.endpoint}.list") + "?" + urlencode(args, doseq=True)

    def _saved_views_menu(self) -> Markup:
        user_id, role_id = _user()
        views = store.visible(user_id, role_id, type(self).__name__)
        active = request.args.get("sv", "")
        current = next((v for v in views if str(v.saved_view_id) == active), None)
        shown = self.shown_columns()
        return Markup(SavedViewsWidget(
            views=[(v, self._view_url(v), v.user_id == user_id) for v in views], current=current,
            user_id=user_id, all_url=url_for(f"{self.endpoint}.list", view="all"),
            columns=[(n, str(self.label_columns.get(n, n)), n in shown) for n in
                     shown + [c for c in choosable_columns(self) if c not in shown]],
            roles_url=url_for(f"{self.endpoint}.view_roles"), save_url=url_for(f"{self.endpoint}.view_save"),
            manage={name: url_for(f"{self.endpoint}.view_{name}", view_id=current.saved_view_id)
                    for name in ("default", "rename", "delete")} if current else {},
            list_args=urlencode(store.list_args(request.args.to_dict(flat=False)), doseq=True),
            cols=",".join(shown) if request.args.get(COLUMNS_ARG) else "")())

    def _shareable_roles(self) -> list[tuple[int, str]]:
        """Roles a view may be shared with: the user's own; an admin's, any."""
        if g.user.role is not None and g.user.role.name == current_app.config.get("AUTH_ROLE_ADMIN", "Admin"):
            return [(r.role_id, r.name) for r in db.session.scalars(db.select(Role).order_by(Role.name))]
        return [(g.user.role.role_id, g.user.role.name)] if g.user.role is not None else []

    @expose("/views/roles")
    @has_access_api
    @permission_name("list")
    def view_roles(self):
        """The roles the save form's "Visible to" offers, read when the form is opened (not on every list page)."""
        return jsonify(roles=[[role_id, _("Role: %(role)s", role=name)] for role_id, name in self._shareable_roles()])

    def _own(self, view_id: int):
        """The user's own view `view_id` of this list: 404 when not visible, 403 when only shared."""
        user_id, role_id = _user()
        found = store.readable(view_id, user_id, role_id, type(self).__name__)
        if found is None:
            abort(404)
        if found.user_id != user_id:
            abort(403)
        return found

    @expose("/views/save", methods=["POST"])
    @has_access
    @permission_name("list")
    def view_save(self):
        """Save the list's current filters, sort, quick search and columns under a name."""
        name = _name(request.form.get("name"))
        args = store.list_args(_parse(request.form.get("args", "")))
        with current_app.test_request_context(url_for(f"{self.endpoint}.list"), query_string=args):
            problem = problem_with_args()  # a view that would not open is not saved
        if problem:
            raise BadRequest(problem)
        columns = chosen_columns(self, request.form.get(COLUMNS_ARG)) if request.form.get(COLUMNS_ARG) else []
        role = request.form.get("role_id", "")
        role_id = int(role) if role.isdigit() else None
        if role and role_id not in {r for r, _n in self._shareable_roles()}:
            abort(403)
        user_id, _role = _user()
        found = store.save(user_id, type(self).__name__, name, role_id, args, columns,
                           request.form.get("is_default") == "1")
        db.session.commit()
        flash(_("View %(name)s saved.", name=name), "success")
        return redirect(self._view_url(found))

    @expose("/views/<int:view_id>/rename", methods=["POST"])
    @has_access
    @permission_name("list")
    def view_rename(self, view_id: int):
        found = self._own(view_id)
        found.name = _name(request.form.get("name"))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            flash(_("You already have a view of that name."), "danger")
        return redirect(self._view_url(self._own(view_id)))

    @expose("/views/<int:view_id>/default", methods=["POST"])
    @has_access
    @permission_name("list")
    def view_default(self, view_id: int):
        found = self._own(view_id)
        store.make_default(found, request.form.get("on") == "1")
        db.session.commit()
        return redirect(self._view_url(found))

    @expose("/views/<int:view_id>/delete", methods=["POST"])
    @has_access
    @permission_name("list")
    def view_delete(self, view_id: int):
        found = self._own(view_id)
        name = found.name
        db.session.delete(found)
        db.session.commit()
        flash(_("View %(name)s deleted.", name=name), "success")
        return redirect(url_for(f"{self.endpoint}.list", view="all"))


def _parse(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=False)
