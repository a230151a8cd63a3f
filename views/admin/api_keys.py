"""`/apikeys/`: the admins' screen of API keys: list, create (the key shown once), revoke. Rules: app/security/api_keys.py."""
from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey, User
from app.security import api_keys

USERS_OFFERED = 500  # usernames suggested in the form; any other can be typed


class ApiKeyView(BaseView):
    route_base = "/apikeys"
    default_view = "index"

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        return self.render_template("crm/api_keys/list.html", keys=api_keys.listing(), status=api_keys.status,
                                    title=_l("API keys"))

    def _form(self, problem: str | None = None, code: int = 200):
        users = db.session.scalars(select(User.username).where(User.active).order_by(User.username)
                                   .limit(USERS_OFFERED)).all()
        return self.render_template("crm/api_keys/add.html", problem=problem, users=users, form=request.form,
                                    days_max=api_keys.DAYS_MAX, name_max=api_keys.NAME_MAX,
                                    title=_l("Create an API key")), code

    @expose("/add", methods=["GET"])
    @has_access
    @permission_name("add")
    def add(self):
        return self._form()

    @expose("/add", methods=["POST"])
    @has_access
    @permission_name("add")
    def create(self):
        form = request.form
        try:
            key, secret = api_keys.create(form.get("username"), form.get("name"), form.get("expires_days"),
                                          created_by=g.user.user_id)
        except api_keys.ApiKeyError as exc:
            return self._form(str(exc), 400)
        # the key is on this page only: not in a flash message (the session cookie), not kept
        return self.render_template("crm/api_keys/created.html", key=key, secret=secret,
                                    title=_l("API key created"))

    @expose("/revoke/<int:api_key_id>", methods=["POST"])
    @has_access
    @permission_name("delete")
    def revoke(self, api_key_id: int):
        key = db.session.get(ApiKey, api_key_id)
        if key is None:
            abort(404)
        if api_keys.revoke(key):
            flash(_("API key %(name)s revoked: it is refused from now on.", name=key.name), "success")
        else:
            flash(_("API key %(name)s was revoked already.", name=key.name), "info")
        return redirect(url_for(".index"), 303)
