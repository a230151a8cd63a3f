"""REST API (FAB ModelRestApi) for the CRM tables, derived from the models like the screens."""
from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_appbuilder.api import ModelRestApi
from sqlalchemy import inspect
from marshmallow.validate import Range

from app.datamodel import PK_MAX, CrmInterface
from app.extensions import db
from app.models import Activity, Contact, Customer, Lead, Opportunity, ServiceTicket
from app.encryption.columns import AMOUNT_MAX
from app.screens import derive, encrypted_and_bands, route_of


def singular(table: str) -> str:
    word = table.replace("_", " ")
    return word[:-3] + "y" if word.endswith("ies") else word.removesuffix("s")


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

    def missing_related(self) -> dict[str, list[str]]:
        """Errors for related ids in the JSON body that name no row (FAB would store NULL)."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return {}
        errors = {}
        for rel in inspect(self.model).relationships:
            if rel.direction.name != "MANYTOONE" or body.get(rel.key) is None:
                continue
            value, target = body[rel.key], rel.mapper.class_
            label = singular(target.__tablename__)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= PK_MAX:
                errors[rel.key] = [f"Must be the id (a positive whole number) of a {label}."]
            elif db.session.get(target, value) is None:
                errors[rel.key] = [f"There is no {label} with id {value}."]
        return errors

    def post_headless(self) -> Response:
        errors = self.missing_related()
        return self.response_422(message=errors) if errors else super().post_headless()

    def put_headless(self, pk) -> Response:
        errors = self.missing_related()
        return self.response_422(message=errors) if errors else super().put_headless(pk)


# One API class per resource; the class name is FAB's permission resource ("CustomerApi").
APIS = [
    type(f"{name}Api", (CrmRestApi,), {"model": model, "__module__": __name__})
    for name, model in (("Customer", Customer), ("Contact", Contact), ("Lead", Lead),
                        ("Opportunity", Opportunity), ("Activity", Activity), ("Ticket", ServiceTicket))
]
