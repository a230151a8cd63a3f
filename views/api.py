"""REST API (FAB ModelRestApi) for the CRM tables, derived from the models like the screens."""
from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_appbuilder.api import ModelRestApi, expose
from flask_appbuilder.security.api import SecurityApi as FabSecurityApi
from sqlalchemy import inspect
from flask_appbuilder.api.convert import Model2SchemaConverter
from marshmallow import fields

from app.crud.datamodel import PK_MAX, CrmInterface
from app.extensions import db
from app.models import Activity, Contact, Customer, Lead, Opportunity, ServiceTicket
from app.crud.derive import api_validators, derive, route_of


def singular(table: str) -> str:
    word = table.replace("_", " ")
    return word[:-3] + "y" if word.endswith("ies") else word.removesuffix("s")


class UnroundedConverter(Model2SchemaConverter):
    """Decimal fields keep the digits sent: 1.234 reaches the validators (and is refused), not 1.23."""

    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        field = super()._column2field(datamodel, column, nested=nested, parent_schema_name=parent_schema_name)
        if isinstance(field, fields.Decimal):
            field.places = None
        return field


class CrmRestApi(ModelRestApi):
    """Subclasses set `model`; columns and the resource name come from it."""

    model: type | None = None
    allow_browser_login = True  # the screens' session works too; permissions are the same
    page_size = 25
    max_page_size = 100
    model2schemaconverter = UnroundedConverter

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
        # the forms' rules (lengths, required, control characters, amounts' range and scale, formats)
        cls.validators_columns = api_validators(cls.model.__table__, cls.add_columns)
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


class SecurityApi(FabSecurityApi):
    """FAB's JWT sign-in; a body without `provider` is a 400 (FAB reads it unchecked: a KeyError).

    The class name keeps FAB's endpoint names (SecurityApi.login).
    """

    @expose("/login", methods=["POST"])
    def login(self) -> Response:
        body = request.get_json(silent=True)
        if isinstance(body, dict) and "provider" not in body:
            return self.response_400(message={"provider": ["Missing data for required field."]})
        return super().login()


# One API class per resource; the class name is FAB's permission resource ("CustomerApi").
APIS = [
    type(f"{name}Api", (CrmRestApi,), {"model": model, "__module__": __name__})
    for name, model in (("Customer", Customer), ("Contact", Contact), ("Lead", Lead),
                        ("Opportunity", Opportunity), ("Activity", Activity), ("Ticket", ServiceTicket))
]
