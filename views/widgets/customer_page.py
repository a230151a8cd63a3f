"""The customer's page as a 360° view: details, contacts, open opportunities and pipeline value,
one timeline, and quick-add buttons pre-filled with the customer (a show panel of CustomerView)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import request, url_for
from flask_appbuilder.models.sqla.filters import FilterRelationOneToManyEqual
from flask_appbuilder.widgets import RenderTemplateWidget
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest

from app.sales import customer360
from app.lists.links import list_url
from app.security.amounts import amounts_readable

REL_EQ = FilterRelationOneToManyEqual
TIMELINE_ARG = "timeline_before"
# (view, add URL, label, icon) of the quick-add buttons
QUICK_ADD = [
    ("ContactView", "/contacts/add", _l("Contact"), "fa-address-book"),
    ("ActivityView", "/activities/add", _l("Activity"), "fa-calendar"),
    ("OpportunityView", "/opportunities/add", _l("Opportunity"), "fa-handshake"),
    ("TicketView", "/tickets/add", _l("Ticket"), "fa-life-ring"),
]
# timeline kind -> the view whose list permission shows it
TIMELINE_KINDS = {"activity": "ActivityView", "ticket": "TicketView", "change": "LogView"}


class Customer360Widget(RenderTemplateWidget):
    template = "crm/customer360.html"


def customer360_panel(view: Any, pk: Any, item: Any, widgets: dict) -> None:
    """Bounded 360° panels instead of the customer's related-record tabs (crm/customer_show.html)."""
    try:
        cursor = customer360.parse_cursor(request.args.get(TIMELINE_ARG))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    sm = view.appbuilder.sm
    cid = item.customer_id
    here = url_for(f"{view.endpoint}.show", pk=cid)
    kinds = {kind for kind, name in TIMELINE_KINDS.items() if sm.has_access("can_list", name)}
    entries, older = customer360.timeline(cid, kinds, cursor)
    can_see_opportunities = sm.has_access("can_list", "OpportunityView")
    widgets["customer360"] = Customer360Widget(
        customer=item, details=widgets["show"], here=here,
        edit_url=url_for(f"{view.endpoint}.edit", pk=cid) if sm.has_access("can_edit", view.class_permission_name)
        else None,
        contacts=customer360.contacts(cid) if sm.has_access("can_list", "ContactView") else None,
        opportunities=customer360.open_opportunities(cid) if can_see_opportunities else None,
        pipeline=customer360.pipeline_value(cid) if can_see_opportunities else None,
        cap=customer360.PIPELINE_SUM_CAP,
        entries=entries, changes=customer360.change_summaries(entries, amounts_readable), kinds=kinds,
        older_url=f"{here}?{urlencode({TIMELINE_ARG: str(older)})}#timeline" if older else None,
        newest_url=f"{here}#timeline" if cursor else None,
        quick_add=[(label, f"{url}?{urlencode({'customer': cid, 'next': here})}", icon)
                   for name, url, label, icon in QUICK_ADD if sm.has_access("can_add", name)],
        lists={
            "contacts": list_url("/contacts", ("customer", REL_EQ, cid)),
            "opportunities": list_url("/opportunities", ("customer", REL_EQ, cid)),
            "activities": list_url("/activities", ("customer", REL_EQ, cid)),
            "tickets": list_url("/tickets", ("customer", REL_EQ, cid)),
        })
