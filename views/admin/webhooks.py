"""The webhooks screen (admins): subscriptions, adding one, switching off or deleting, recent deliveries.

Rules live in app/webhooks/; this only reads the form and renders.
"""
from __future__ import annotations

import secrets

from flask import abort, g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.models.webhooks import EVENT_KINDS, EVENT_TABLES
from app.webhooks import subscriptions as subs
from app.webhooks.urls import RefusedUrl
from views.admin.form_screen import FormScreen, action


class WebhooksView(FormScreen):
    route_base = "/webhooks"
    template = "crm/webhooks.html"
    title = _l("Webhooks")
    refused = (RefusedUrl,)

    def blank(self) -> dict:
        return {"url": "", "events": [], "secret": secrets.token_urlsafe(32)}

    def page_values(self) -> dict:
        return dict(subscriptions=subs.subscriptions(), deliveries=subs.recent_deliveries(), tables=EVENT_TABLES,
                    kinds=EVENT_KINDS)

    def read_form(self) -> dict:
        return {"url": request.form.get("url", ""), "events": request.form.getlist("events"),
                "secret": request.form.get("secret", "")}

    def create(self, form: dict):
        sub = subs.add_subscription(form["url"], form["events"], form["secret"], g.user)
        return self.done(_("Webhook %(id)s added: %(url)s.", id=sub.webhook_id, url=sub.url))

    def _subscription_or_404(self, webhook_id: int):
        sub = subs.find(webhook_id)
        if sub is None:
            abort(404)
        return sub

    @action("/<int:webhook_id>/active", "edit")
    def active(self, webhook_id: int):
        sub = self._subscription_or_404(webhook_id)
        on = request.form.get("active") == "1"
        subs.set_active(sub, on)
        return self.done(_("Webhook %(id)s activated.", id=webhook_id) if on
                         else _("Webhook %(id)s deactivated.", id=webhook_id))

    @action("/<int:webhook_id>/delete", "delete")
    def delete(self, webhook_id: int):
        subs.remove_subscription(self._subscription_or_404(webhook_id))
        return self.done(_("Webhook %(id)s deleted.", id=webhook_id))
