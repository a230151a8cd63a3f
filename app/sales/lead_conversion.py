"""Lead conversion: a lead becomes a customer (new or existing), a contact and an opportunity, at once.

Everything happens in the caller's one transaction: the lead row is locked
(SELECT ... FOR UPDATE) and re-read, so of two people converting the same lead
at the same moment the second waits, then sees it converted and is refused.
Any refusal raises `ConversionRefused` before the caller commits; the caller rolls
back, so a failed conversion leaves no customer, contact or opportunity behind.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable

from flask_babel import gettext as _
from sqlalchemy import select

from app.extensions import db
from app.models import Contact, Customer, Lead, Opportunity

NAME_MAX = 255


class ConversionRefused(Exception):
    """A conversion that must not happen; the message is for the user."""


@dataclass
class Conversion:
    """What to convert a lead into. Empty choices mean "the lead's own" (its contact and its customer)."""

    customer_id: int | None = None  # link to this existing customer
    new_customer: dict[str, Any] | None = None  # or create one (name, industry, location)
    new_contact: dict[str, Any] | None = None  # None: the lead's contact
    opportunity: dict[str, Any] = field(default_factory=dict)  # name, stage, value, close_date
    version: int | None = None  # the lead's version when the form was opened


def _locked_leads(lead_ids: Iterable[int]) -> dict[int, Lead]:
    """The leads, row-locked in id order (no deadlock between two bulk conversions), freshly read."""
    ids = sorted(set(lead_ids))
    rows = db.session.scalars(select(Lead).where(Lead.lead_id.in_(ids)).order_by(Lead.lead_id)
                              .with_for_update().execution_options(populate_existing=True))
    return {lead.lead_id: lead for lead in rows}


def already_converted(lead: Lead) -> str | None:
    """Why the lead cannot be converted again, or None."""
    if lead.converted_at is not None:
        return _("Lead #%(id)s was already converted on %(when)s (customer: %(customer)s, opportunity: "
                 "%(opportunity)s); it cannot be converted twice.", id=lead.lead_id,
                 when=f"{lead.converted_at:%Y-%m-%d %H:%M}", customer=lead.converted_customer,
                 opportunity=lead.converted_opportunity)
    if lead.status == "converted":
        return _("Lead #%(id)s is already marked converted; it cannot be converted twice.", id=lead.lead_id)
    return None


def default_opportunity_name(lead: Lead, customer_name: str) -> str:
    suffix = lead.source or _("lead #%(id)s", id=lead.lead_id)
    return f"{customer_name}: {suffix}"[:NAME_MAX]


def _convert_locked(lead: Lead, request: Conversion, user_id: int | None) -> Opportunity:
    refusal = already_converted(lead)
    if refusal:
        raise ConversionRefused(refusal)
    if request.version is not None and request.version != lead.version:
        raise ConversionRefused(_("Someone else changed lead #%(id)s after you opened it; nothing was "
                                  "converted. Reload the page and try again.", id=lead.lead_id))
    if request.new_customer:
        customer = Customer(**request.new_customer)
        db.session.add(customer)
    elif request.customer_id is not None:
        customer = db.session.get(Customer, request.customer_id)
        if customer is None:
            raise ConversionRefused(_("The selected customer does not exist."))
    elif lead.contact is not None:
        customer = lead.contact.customer
    else:
        raise ConversionRefused(_("Lead #%(id)s has no contact to take the customer from: convert it on its "
                                  "own page and pick or create the customer.", id=lead.lead_id))
    if request.new_contact:
        contact = Contact(customer=customer, **request.new_contact)
        db.session.add(contact)
    elif lead.contact is None:
        raise ConversionRefused(_("Lead #%(id)s has no contact: enter a new contact.", id=lead.lead_id))
    elif lead.contact.customer is not customer:
        raise ConversionRefused(_("The lead's contact %(contact)s belongs to %(owner)s, not to %(customer)s: "
                                  "choose that customer or create a new contact.", contact=lead.contact,
                                  owner=lead.contact.customer, customer=customer.name))
    else:
        contact = lead.contact
    values = {"stage": "initial", **{k: v for k, v in request.opportunity.items() if v not in (None, "")}}
    values.setdefault("name", default_opportunity_name(lead, customer.name))
    opportunity = Opportunity(customer=customer, **values)
    db.session.add(opportunity)
    lead.contact = contact
    lead.status = "converted"
    lead.converted_customer = customer
    lead.converted_opportunity = opportunity
    lead.converted_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    lead.converted_by = user_id
    db.session.flush()  # database refusals surface here, inside the caller's transaction
    return opportunity


def convert_lead(lead_id: int, request: Conversion, user_id: int | None) -> Opportunity:
    """Convert one lead (caller commits, or rolls back on ConversionRefused)."""
    lead = _locked_leads([lead_id]).get(lead_id)
    if lead is None:
        raise ConversionRefused(_("Lead #%(id)s does not exist.", id=lead_id))
    return _convert_locked(lead, request, user_id)


def convert_leads(lead_ids: Iterable[int], user_id: int | None) -> list[Opportunity]:
    """Convert several leads with their own contact and its customer: all of them, or none (caller commits)."""
    ids = list(dict.fromkeys(lead_ids))
    leads = _locked_leads(ids)
    missing = [i for i in ids if i not in leads]
    if missing:
        raise ConversionRefused(_("Lead #%(id)s does not exist.", id=missing[0]))
    problems = []
    for lead_id in ids:
        lead = leads[lead_id]
        if already_converted(lead):
            problems.append(_("#%(id)s is already converted", id=lead_id))
        elif lead.contact is None:
            problems.append(_("#%(id)s has no contact (convert it on its own page)", id=lead_id))
    if problems:
        raise ConversionRefused(_("Nothing was converted: %(problems)s.", problems="; ".join(problems)))
    return [_convert_locked(leads[i], Conversion(), user_id) for i in ids]
