"""The webhooks screen (admins): subscriptions, adding one, switching off or deleting, recent deliveries.

Rules live in app/webhooks/; this only reads the form and renders.
"""
from __future__ import annotations

import secrets

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.models.webhooks import EVENT_KINDS, EVENT_TABLES
from app.webhooks import subscriptions as subs
from app.webhooks.urls import RefusedUrl


class WebhooksView(BaseView):
    route_base = "/webhooks"
    default_view = "index"

    def _page(self, form: dict | None = None, error: str | None = None, status: int = 200):
        form = form or {"url": "", "events": [], "secret": secrets.token_urlsafe(32)}
        page = self.render_template(
            "crm/webhooks.html", title=_l("Webhooks"), subscriptions=subs.subscriptions(),
            deliveries=subs.recent_deliveries(), tables=EVENT_TABLES, kinds=EVENT_KINDS, form=form, error=error)
        return page, status

    def _subscription_or_404(self, webhook_id: int):
        sub = subs.find(webhook_id)
        if sub is None:
            abort(404)
        return sub

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        return self._page()

    @expose("/add", methods=["POST"])
    @has_access
    @permission_name("add")
    def add(self):
        form = {"url": request.form.get("url", ""), "events": request.form.getlist("events"),
                "secret": request.form.get("secret", "")}
        try:
            sub = subs.add_subscription(form["url"], form["events"], form["secret"], g.user)
        except RefusedUrl as exc:
            return self._page(form, str(exc), 400)
        flash(_("Webhook %(id)s added: %(url)s.", id=sub.webhook_id, url=sub.url), "success")
        return redirect(url_for(".index"))

    @expose("/<int:webhook_id>/active", methods=["POST"])
    @has_access
    @permission_name("edit")
    def active(self, webhook_id: int):
        sub = self._subscription_or_404(webhook_id)
        on = request.form.get("active") == "1"
        subs.set_active(sub, on)
        flash(_("Webhook %(id)s activated.", id=webhook_id) if on
              else _("Webhook %(id)s deactivated.", id=webhook_id), "success")
        return redirect(url_for(".index"))

    @expose("/<int:webhook_id>/delete", methods=["POST"])
    @has_access
    @permission_name("delete")
    def delete(self, webhook_id: int):
        subs.remove_subscription(self._subscription_or_404(webhook_id))
        flash(_("Webhook %(id)s deleted.", id=webhook_id), "success")
        return redirect(url_for(".index"))
