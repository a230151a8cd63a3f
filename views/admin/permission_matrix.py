"""The permission matrix: roles against subjects with readable actions, role cloning,
and a user's effective permissions. Rules live in app/security/access.py."""
from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from app.security import access, data_scopes
from app.extensions import db
from app.i18n.labels import label_for
from app.models import Role, User

ROLE_NAME_MAX = 255
log = logging.getLogger(__name__)


class PermissionMatrixView(BaseView):
    route_base = "/permission-matrix"
    default_view = "index"

    def _admin_role(self) -> str:
        return current_app.config["AUTH_ROLE_ADMIN"]

    def _roles(self) -> list[Role]:
        return list(db.session.scalars(select(Role).order_by(Role.role_name)))

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        cat = access.catalog(self.appbuilder)
        roles = self._roles()
        cells = {role.role_id: cat.cells(access.granted_ids(role.role_id)) for role in roles}
        return self.render_template("crm/access/matrix.html", cat=cat, roles=roles, cells=cells,
                                    admin_role=self._admin_role(), actions=access.ACTIONS,
                                    help=access.ACTION_HELP, title=_l("Permission matrix"),
                                    action_label=access.action_label)

    def _role_or_404(self, role_id: int) -> Role:
        role = db.session.get(Role, role_id)
        if role is None:
            abort(404)
        return role

    @expose("/role/<int:role_id>", methods=["GET"])
    @has_access
    @permission_name("list")
    def role(self, role_id: int):
        role = self._role_or_404(role_id)
        cat = access.catalog(self.appbuilder)
        return self.render_template(
            "crm/access/role.html", cat=cat, role=role, cells=cat.cells(access.granted_ids(role_id)),
            readonly=role.role_name == self._admin_role(), actions=access.ACTIONS,
            help=access.ACTION_HELP, users=len(role.users), title=_("Role %(name)s", name=role.role_name),
            action_label=access.action_label, scopes=data_scopes.scopes_of(role_id),
            scope_labels=data_scopes.SCOPE_LABELS, table_label=label_for)

    @expose("/role/<int:role_id>", methods=["POST"])
    @has_access
    @permission_name("edit")
    def save_role(self, role_id: int):
        role = self._role_or_404(role_id)
        if role.role_name == self._admin_role():
            flash(_("The Admin role always has every permission; it cannot be changed."), "danger")
            return redirect(url_for(".role", role_id=role_id))
        cat = access.catalog(self.appbuilder)
        shown = {}
        for key in request.form.getlist("cell"):
            subject, _sep, action = key.partition(":")
            before = request.form.get(f"was:{key}")
            if before in ("all", "some", "none") and cat.ids(subject, action):
                shown[subject, action] = before
        checked = {tuple(k.partition(":")[::2]) for k in request.form.getlist("grant")}
        wanted = access.apply_matrix(cat, role_id, checked, shown)
        scopes = {key.removeprefix("scope:"): value for key, value in request.form.items() if key.startswith("scope:")}
        try:
            added, removed = access.set_role_permissions(role_id, wanted)
            rescoped = data_scopes.save_scopes(role_id, scopes)
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("saving the permissions of role %s failed", role_id)
            flash(_("The database refused the change; nothing was saved."), "danger")
        else:
            flash(_("Role %(role)s saved: %(added)s permission(s) granted, %(removed)s revoked.", role=role.role_name,
                    added=added, removed=removed), "success")
            if rescoped:
                flash(_("Data scope changed: %(tables)s.", tables=", ".join(
                    f"{_(label_for(t))} → {data_scopes.SCOPE_LABELS[new]}" for t, (_old, new) in rescoped.items())),
                      "success")
        return redirect(url_for(".role", role_id=role_id))

    @expose("/role/<int:role_id>/clone", methods=["POST"])
    @has_access
    @permission_name("add")
    def clone(self, role_id: int):
        source = self._role_or_404(role_id)
        name = (request.form.get("name") or "").strip()
        problem = None
        if not name:
            problem = _("Give the new role a name.")
        elif len(name) > ROLE_NAME_MAX:
            problem = _("A role name has at most %(max)s characters.", max=ROLE_NAME_MAX)
        elif db.session.scalar(select(Role).where(func.lower(Role.role_name) == name.lower())):
            problem = _("A role named %(name)s exists already.", name=repr(name))
        if problem:
            flash(problem, "danger")
            return redirect(url_for(".role", role_id=role_id)), 303
        role = access.clone_role(source, name)
        db.session.commit()
        flash(_("Role %(name)s created as a copy of %(source)s.", name=name, source=source.role_name), "success")
        return redirect(url_for(".role", role_id=role.role_id))

    @expose("/user/")
    @has_access
    @permission_name("list")
    def user(self):
        username = (request.args.get("username") or "").strip()
        user = db.session.scalar(select(User).where(User.username == username)) if username else None
        cat = access.catalog(self.appbuilder)
        permissions = access.effective(cat, user) if user else {}
        if username and user is None:
            flash(_("No user named %(name)s.", name=repr(username)), "warning")
        return self.render_template("crm/access/user.html", username=username, user=user,
                                    permissions=permissions, actions=access.ACTIONS,
                                    title=_l("Effective permissions"), action_label=access.action_label)
