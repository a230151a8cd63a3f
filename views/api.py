"""REST API (FAB ModelRestApi) for the CRM tables, derived from the models like the screens."""
from __future__ import annotations

import sys
from typing import Any

from flask import Response, current_app, g, request
from flask_appbuilder.api import BaseApi, ModelRestApi, expose, protect, safe
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.api.manager import OpenApi
from flask_appbuilder.security.api import SecurityApi as FabSecurityApi
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from marshmallow import fields
from sqlalchemy import DateTime, inspect

from app.crud.api_fields import AmountString, UtcDateTime
from app.crud.datamodel import PK_MAX, CrmInterface
from app.crud.derive import api_validators, derive, route_of
from app.crud.lookups import many_to_one, narrowing_keys, outside_choice
from app.crud.openapi import document
from app.crud.refusals import scope_message
from app.audit.sentences import RECORD_WORDS
from app.encryption.columns import EncryptedAmount
from app.extensions import db
from app.fields.refresh import retry_dropped
from app.i18n.labels import column_label
from app.models import Activity, Contact, Customer, Lead, Opportunity, ServiceTicket


def singular(table: str) -> str:
    word = table.replace("_", " ")
    return word[:-3] + "y" if word.endswith("ies") else word.removesuffix("s")


class UnroundedConverter(Model2SchemaConverter):
    """The API's value types: amounts as decimal strings, timestamps in UTC with their offset.

    Decimal fields keep the digits sent: 1.234 reaches the validators (and is refused), not 1.23.
    """

    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        field = super()._column2field(datamodel, column, nested=nested, parent_schema_name=parent_schema_name)
        kind = getattr(datamodel.obj.__table__.columns.get(column.name), "type", None)
        replacement = AmountString if isinstance(kind, EncryptedAmount) else UtcDateTime if isinstance(
            kind, DateTime) else None
        if replacement is not None:
            typed = replacement(required=field.required, allow_none=field.allow_none,
                                validate=list(field.validators), dump_only=field.dump_only)
            typed.unique = getattr(field, "unique", False)
            return typed
        if isinstance(field, fields.Decimal):
            field.places = None
        return field


def error_body(code: int, message: Any) -> dict[str, Any]:
    """The one error shape: {message: text, status}, and a 422's refused fields under `errors`."""
    if isinstance(message, dict):
        errors = {str(key): [str(m) for m in value] if isinstance(value, list) else [str(value)]
                  for key, value in message.items()}
        text = "; ".join(f"{key}: {' '.join(texts)}" for key, texts in errors.items())
        return {"message": text, "status": code, "errors": errors}
    return {"message": str(message), "status": code}


def shaped_response(code: int, **kwargs: Any) -> Response:
    """FAB's JSON answer; an error in the one shape (a stale write is a 409, not a 422)."""
    if code >= 400:
        if code == 422 and g.pop("crm_conflict", False):
            code = 409
        if code == 422 and g.pop("crm_forbidden", False):  # row-level security refused the write
            code, kwargs["message"] = 403, scope_message()
        kwargs = error_body(code, kwargs.get("message", ""))
    return BaseApi.response(code, **kwargs)


class CrmRestApi(ModelRestApi):
    """One table's REST API; `derived_api` makes each, its columns and rules derived from the model."""

    model: type | None = None
    allow_browser_login = True  # the screens' session works too; permissions are the same
    page_size = 25
    max_page_size = 100
    model2schemaconverter = UnroundedConverter

    response = staticmethod(shaped_response)

    def response_500(self, message: str | None = None) -> Response:
        """FAB's `safe` caught an error: a custom column a DBA dropped by hand is reflected and the call answered again."""
        caught = sys.exc_info()[1]  # called inside `safe`'s except block
        retried = retry_dropped(caught) if caught is not None else None
        return retried if retried is not None else super().response_500(message)

    @expose("/<int:pk>", methods=["PUT"])
    @protect()
    @safe
    @permission_name("put")
    def put(self, pk: int) -> Response:
        """Change the fields sent (PUT is partial: omitted fields keep their values)."""
        return self.put_headless(pk)

    @expose("/<int:pk>", methods=["DELETE"])
    @protect()
    @safe
    @permission_name("delete")
    def delete(self, pk: int) -> Response:
        """Delete a row (refused with 422 while other rows refer to it)."""
        return self.delete_headless(pk)

    def missing_related(self) -> tuple[int, dict[str, list[str]]]:
        """Status and errors for related ids in the JSON body that are no id (422) or name no row (404).

        FAB would store NULL for a missing row. It is a 404 naming the field, as JSON:API and
        Stripe answer a reference to a missing resource: the request is well formed, what it
        points at is not there.
        """
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return 0, {}
        errors, status = {}, 404
        for rel in inspect(self.model).relationships:
            if rel.direction.name != "MANYTOONE" or body.get(rel.key) is None:
                continue
            value, target = body[rel.key], rel.mapper.class_
            table = target.__tablename__
            label = str(RECORD_WORDS.get(table, singular(table)))  # in the user's language
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= PK_MAX:
                errors[rel.key], status = [_("Must be the id (a positive whole number) of a %(record)s.",
                                             record=label)], 422
            elif db.session.get(target, value) is None:
                errors[rel.key] = [_("There is no %(record)s with id %(id)s.", record=label, id=value)]
        return status, errors

    def outside_choices(self, item: Any = None) -> dict[str, list[str]]:
        """Errors for related rows in the JSON body outside the rows of another one chosen (422).

        As the forms (AjaxRelatedField): an activity's contact must be one of its customer's
        contacts. A PUT is partial: what it does not send is the stored row's (`item`).
        """
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return {}
        relations = many_to_one(self.model)

        def chosen(key: str) -> Any:
            if key in body:
                value = body[key]
                return db.session.get(relations[key].mapper.class_, value) if value is not None else None
            return getattr(item, key, None) if item is not None else None

        errors = {}
        for key in relations:
            if key not in self.add_columns:
                continue
            for parent_key in narrowing_keys(self.model, key, self.add_columns):
                if key not in body and parent_key not in body:
                    continue  # neither changes: not this request's choice
                table = self.model.__tablename__
                message = outside_choice(chosen(key), column_label(table, key), parent_key, chosen(parent_key),
                                         column_label(table, parent_key))
                if message:
                    errors[key] = [message]
        return errors

    def post_headless(self) -> Response:
        status, errors = self.missing_related()
        if not errors:
            status, errors = 422, self.outside_choices()
        return self.response(status, message=errors) if errors else super().post_headless()

    def put_headless(self, pk) -> Response:
        body = request.get_json(silent=True)
        if isinstance(body, dict) and not body:
            return self.response_422(message=_("Send at least one field to change."))
        status, errors = self.missing_related()
        if not errors:
            status, errors = 422, self.outside_choices(self.datamodel.get(pk))
        return self.response(status, message=errors) if errors else super().put_headless(pk)


class SecurityApi(FabSecurityApi):
    """FAB's JWT sign-in; a body without `provider` is a 400 (FAB reads it unchecked: a KeyError).

    The class name keeps FAB's endpoint names (SecurityApi.login). Errors in the API's one shape.
    """

    response = staticmethod(shaped_response)

    @expose("/login", methods=["POST"])
    def login(self) -> Response:
        body = request.get_json(silent=True)
        if isinstance(body, dict) and "provider" not in body:
            return self.response_400(message={"provider": ["Missing data for required field."]})
        return super().login()


class CrmOpenApi(OpenApi):
    """The OpenAPI document at /api/v1/_openapi, derived from the models (app/crud/openapi.py).

    FAB's own document is built from generic docstrings; this one says what the API does.
    The permission is FAB's (can_get on OpenApi).
    """

    route_base = "/api/v1"
    class_permission_name = "OpenApi"

    @expose("/_openapi", methods=["GET"])
    @protect()
    @safe
    def get(self) -> Response:
        """The OpenAPI 3 document of version v1."""
        apis = [view for view in current_app.appbuilder.baseviews if isinstance(view, CrmRestApi)]
        return BaseApi.response(200, **document(apis, current_app.appbuilder.app_name))


def api_attributes(model: type) -> dict[str, Any]:
    """An API class's columns, order, search and the forms' rules, derived from the model's columns."""
    screen = derive(model)
    writable = [c for c in screen["add_columns"] if c != "version"]
    columns = [c.name for c in model.__table__.columns if c.name != "version"]
    return {
        "datamodel": CrmInterface(model),
        "list_columns": columns, "show_columns": columns, "add_columns": writable, "edit_columns": writable,
        "order_columns": screen["order_columns"], "search_columns": screen["search_columns"],
        # the forms' rules (lengths, required, control characters, amounts' range and scale, formats)
        "validators_columns": api_validators(model.__table__, writable),
    }


def derived_api(name: str, model: type) -> type[CrmRestApi]:
    """The API class of `model`: its resource name and api_attributes."""
    return type(name, (CrmRestApi,), {
        "__module__": __name__, "model": model, "resource_name": route_of(model.__tablename__).strip("/"),
        **api_attributes(model)})


# One API class per resource; the class name is FAB's permission resource ("CustomerApi").
APIS = [
    derived_api(f"{name}Api", model)
    for name, model in (("Customer", Customer), ("Contact", Contact), ("Lead", Lead),
                        ("Opportunity", Opportunity), ("Activity", Activity), ("Ticket", ServiceTicket))
]
