"""REST API (FAB ModelRestApi) for the CRM tables, derived from the models like the screens."""
from __future__ import annotations

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
    """One table's REST API; `derived_api` makes each, its columns and rules derived from the model."""

    model: type | None = None
    allow_browser_login = True  # the screens' session works too; permissions are the same
    page_size = 25
    max_page_size = 100
    model2schemaconverter = UnroundedConverter

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


def derived_api(name: str, model: type) -> type[CrmRestApi]:
    """The API class of `model`: its resource name, columns, order, search and the forms' rules."""
    screen = derive(model)
    writable = [c for c in screen["add_columns"] if c != "version"]
    columns = [c.name for c in model.__table__.columns if c.name != "version"]
    return type(name, (CrmRestApi,), {
        "__module__": __name__, "model": model, "datamodel": CrmInterface(model),
        "resource_name": route_of(model.__tablename__).strip("/"),
        "list_columns": columns, "show_columns": columns, "add_columns": writable, "edit_columns": writable,
        "order_columns": screen["order_columns"], "search_columns": screen["search_columns"],
        # the forms' rules (lengths, required, control characters, amounts' range and scale, formats)
        "validators_columns": api_validators(model.__table__, writable),
    })


# One API class per resource; the class name is FAB's permission resource ("CustomerApi").
APIS = [
    derived_api(f"{name}Api", model)
    for name, model in (("Customer", Customer), ("Contact", Contact), ("Lead", Lead),
                        ("Opportunity", Opportunity), ("Activity", Activity), ("Ticket", ServiceTicket))
]
