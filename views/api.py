"""REST API (FAB ModelRestApi) for the CRM tables, derived from the models like the screens."""
from __future__ import annotations

from typing import Any

from flask_appbuilder.api import ModelRestApi
from marshmallow.validate import Range

from app.datamodel import CrmInterface
from app.models import Activity, Contact, Customer, Lead, Opportunity, ServiceTicket
from app.encryption.columns import AMOUNT_MAX
from app.screens import derive, encrypted_and_bands, route_of


class CrmRestApi(ModelRestApi):
    """Subclasses set `model`; columns and the resource name come from it."""

    model: type | None = None
    allow_browser_login = True  # the screens' session works too; permissions are the same
    page_size = 25
    max_page_size = 100

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("model") is None:
            return
        cls.datamodel = CrmInterface(cls.model)
        cls.resource_name = route_of(cls.model.__tablename__).strip("/")
        screen = derive(cls.model)
        columns = [c.name for c in cls.model.__table__.columns if c.name != "version"]
        cls.list_columns = cls.show_columns = columns
        cls.add_columns = cls.edit_columns = [
            c for c in screen["add_columns"] if c != "version"
        ]
        cls.order_columns = screen["order_columns"]
        # the database cannot range-check a ciphertext, so the API does (the forms too)
        cls.validators_columns = {name: Range(min=0, max=AMOUNT_MAX)
                                  for name in encrypted_and_bands(cls.model.__table__)[0]}
        cls.search_columns = screen["search_columns"]


class CustomerApi(CrmRestApi):
    model = Customer


class ContactApi(CrmRestApi):
    model = Contact


class LeadApi(CrmRestApi):
    model = Lead


class OpportunityApi(CrmRestApi):
    model = Opportunity


class ActivityApi(CrmRestApi):
    model = Activity


class TicketApi(CrmRestApi):
    model = ServiceTicket


APIS = [CustomerApi, ContactApi, LeadApi, OpportunityApi, ActivityApi, TicketApi]
