"""`/apikeys/`: the admins' screen of API keys: list, create (the key shown once), revoke. Rules: app/security/api_keys.py."""
from __future__ import annotations

from flask import abort, g
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey, User
from app.security import api_keys
from views.admin.form_screen import ListAndFormScreen, action

USERS_OFFERED = 500  # usernames suggested in the form; any other can be typed


class ApiKeyView(ListAndFormScreen):
    route_base = "/apikeys"
    list_template = "crm/api_keys/list.html"
    list_title = _l("API keys")
    template = "crm/api_keys/add.html"
    title = _l("Create an API key")
    refused = (api_keys.ApiKeyError,)

    def list_values(self) -> dict:
        return dict(keys=api_keys.listing(), status=api_keys.status)

    def page_values(self) -> dict:
        users = db.session.scalars(select(User.username).where(User.active).order_by(User.username)
                                   .limit(USERS_OFFERED)).all()
        return dict(users=users, days_max=api_keys.DAYS_MAX, name_max=api_keys.NAME_MAX)

    def create(self, form):
        key, secret = api_keys.create(form.get("username"), form.get("name"), form.get("expires_days"),
                                      created_by=g.user.user_id)
        # the key is on this page only: not in a flash message (the session cookie), not kept
        return self.render_template("crm/api_keys/created.html", key=key, secret=secret,
                                    title=_l("API key created"))

    @action("/revoke/<int:api_key_id>", "delete")
    def revoke(self, api_key_id: int):
        key = db.session.get(ApiKey, api_key_id)
        if key is None:
            abort(404)
        if api_keys.revoke(key):
            return self.done(_("API key %(name)s revoked: it is refused from now on.", name=key.name), code=303)
        return self.done(_("API key %(name)s was revoked already.", name=key.name), "info", 303)
