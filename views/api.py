"""REST API (FAB ModelRestApi) for the CRM tables, derived from the models like the screens."""
from __future__ import annotations

from typing import Any

from flask_appbuilder.api import ModelRestApi

from app.datamodel import CrmInterface
from app.models import Activity, Contact, Customer, Lead, Opportunity, ServiceTicket
from app.screens import derive, route_of


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
        cls.search_columns = screen["search_columns"]


# One API class per resource; the class name is FAB's permission resource ("CustomerApi").
APIS = [
    type(f"{name}Api", (CrmRestApi,), {"model": model, "__module__": __name__})
    for name, model in (("Customer", Customer), ("Contact", Contact), ("Lead", Lead),
                        ("Opportunity", Opportunity), ("Activity", Activity), ("Ticket", ServiceTicket))
]
