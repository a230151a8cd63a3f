"""The REST API's OpenAPI 3 document, derived from the models and the API classes.

Written from what the API does, not from FAB's generic docstrings: ids are
integers, timestamps carry their offset, amounts are decimal strings, choice
columns list their values, foreign keys name their table, every error has one
shape and every operation lists each status it can answer.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect

from app.crud.openapi_columns import column_schema, id_schema
from app.crud.openapi_query import info_query, item_query, list_query

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object", "required": ["message", "status"],
    "properties": {
        "message": {"type": "string", "description": "What went wrong, in the user's language."},
        "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "The HTTP status."},
        "errors": {"type": "object", "description": "Refused fields (422): each field with its messages.",
                   "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
}
ERROR_TEXTS = {
    400: "Bad request: a malformed body or query argument.",
    401: "No valid credential (missing, malformed, expired or revoked token).",
    403: "The user's role lacks the permission, or the change would put the record outside the user's data scope "
         "(an owner whose records they do not see).",
    404: "No such record or address, or a related id in the body names no row (see `errors`).",
    405: "The address does not accept this method.",
    409: "The row's state forbids it (other rows refer to it), or someone else changed it meanwhile.",
    413: "The request body is larger than the server accepts.",
    414: "The address is longer than the server accepts.",
    415: "The body is not JSON.",
    422: "A value is refused (see `errors`), or the database refused the change.",
    429: "Too many sign-in attempts; wait and try again.",
    503: "The database cannot be reached; try again (see Retry-After).",
}
COMMON = (400, 401, 403, 404, 405, 413, 414, 503)
BEARER = [{"jwt": []}]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"$ref": f"#/components/responses/{code}"} for code in sorted(set(COMMON + codes))}


def _operation(op_id: str, tag: str, summary: str, ok: dict[str, Any], codes: Iterable[int] = (),
               body: dict[str, Any] | None = None, parameters: list | None = None,
               security: list | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "tags": [tag], "summary": summary,
                          "responses": {**ok, **_errors(*codes)}, "security": BEARER if security is None else security}
    if body is not None:
        op["requestBody"] = {"required": True, "content": _json(body)}
    if parameters:
        op["parameters"] = parameters
    return op


def _q(schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": "q", "in": "query", "required": False, "content": _json(schema),
            "description": "Arguments as Rison or JSON (see docs/api.md)."}


class ResourceDoc:
    """The paths and schemas of one CRM API class (its model, columns, filters)."""

    def __init__(self, api: Any) -> None:
        self.api, self.model = api, api.model
        self.table = self.model.__table__
        self.name = type(api).__name__.removesuffix("Api")
        self.path = f"/api/v1/{api.resource_name}"
        self.relations = {rel.key: rel for rel in inspect(self.model).relationships
                          if rel.direction.name == "MANYTOONE"}

    def read_schema(self) -> dict[str, Any]:
        props = {c: column_schema(self.table, self.table.columns[c]) for c in self.api.show_columns}
        return {"type": "object", "properties": props, "additionalProperties": False}

    def write_schema(self, *, partial: bool) -> dict[str, Any]:
        fields = self.api.add_model_schema.fields
        props, required = {}, []
        for name in self.api.add_columns:
            needed = fields[name].required
            if name in self.relations:
                local = next(iter(self.relations[name].local_columns))
                target = self.relations[name].mapper.local_table.name
                props[name] = id_schema(target, nullable=local.nullable)
            else:
                props[name] = column_schema(self.table, self.table.columns[name], writing=True,
                                            required=not self.table.columns[name].nullable)
            if needed:
                required.append(name)
        schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
        if partial:
            schema["minProperties"] = 1
        elif required:
            schema["required"] = required
        return schema

    def written_schema(self) -> dict[str, Any]:
        """What a POST or PUT returns in `result`: the writable columns as stored."""
        schema = self.write_schema(partial=True)
        props = {}
        for name, prop in schema["properties"].items():
            if name in self.relations:
                props[name] = prop
            else:
                props[name] = column_schema(self.table, self.table.columns[name])
        return {"type": "object", "properties": props, "additionalProperties": False}

    def schemas(self) -> dict[str, Any]:
        return {f"{self.name}": self.read_schema(), f"{self.name}.post": self.write_schema(partial=False),
                f"{self.name}.put": self.write_schema(partial=True), f"{self.name}.written": self.written_schema()}

    def paths(self) -> dict[str, Any]:
        ref = {"$ref": f"#/components/schemas/{self.name}"}
        written = {"$ref": f"#/components/schemas/{self.name}.written"}
        pk = {"name": "pk", "in": "path", "required": True, "schema": id_schema(),
              "description": f"The id of a row of `{self.table.name}`."}
        labels = {"type": "object", "additionalProperties": {"type": "string"}}
        names = {"type": "array", "items": {"type": "string"}}
        listing = {"type": "object", "properties": {
            "count": {"type": "integer", "minimum": 0,
                      "description": "Rows matching, exact up to 10,000; beyond, an estimate."},
            "ids": {"type": "array", "items": id_schema()}, "result": {"type": "array", "items": ref},
            "label_columns": labels, "description_columns": labels, "list_columns": names,
            "order_columns": names, "list_title": {"type": "string"}}}
        item = {"type": "object", "properties": {
            "id": id_schema(), "result": ref, "label_columns": labels, "description_columns": labels,
            "show_columns": names, "show_title": {"type": "string"}}}
        tag, noun = self.api.resource_name, self.table.name
        return {
            f"{self.path}/": {
                "get": _operation(f"list_{noun}", tag, f"List {noun} (paged, filtered, ordered)",
                                  {"200": {"description": "A page of rows", "content": _json(listing)}},
                                  parameters=[_q(list_query(self.api))]),
                "post": _operation(f"create_{noun}", tag, f"Create a row of {noun}", {"201": {
                    "description": "Created", "content": _json({"type": "object", "required": ["id", "result"],
                                                                 "properties": {"id": id_schema(),
                                                                                "result": written}})}},
                    codes=(409, 415, 422), body={"$ref": f"#/components/schemas/{self.name}.post"}),
            },
            f"{self.path}/_info": {
                "get": _operation(f"info_{noun}", tag, f"What a client may do with {noun}", {
                    "200": {"description": "Columns, filters and permissions",
                            "content": _json({"$ref": "#/components/schemas/Info"})}},
                    parameters=[_q(info_query(self.api))]),
            },
            f"{self.path}/{{pk}}": {
                "parameters": [pk],
                "get": _operation(f"get_{noun}", tag, f"One row of {noun}",
                                  {"200": {"description": "The row", "content": _json(item)}},
                                  parameters=[_q(item_query(self.api))]),
                "put": _operation(f"update_{noun}", tag,
                                  f"Change fields of a row of {noun} (the fields sent; the others are kept)",
                                  {"200": {"description": "Changed", "content": _json({
                                      "type": "object", "required": ["result"], "properties": {"result": written}})}},
                                  codes=(409, 415, 422), body={"$ref": f"#/components/schemas/{self.name}.put"}),
                "delete": _operation(f"delete_{noun}", tag, f"Delete a row of {noun}", {"200": {
                    "description": "Deleted", "content": _json(
                        {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}})}},
                    codes=(409, 422)),
            },
        }


INFO_FIELD = {"type": "object", "required": ["name", "label", "description", "type", "required", "unique"],
              "properties": {
                  "name": {"type": "string"}, "label": {"type": "string"}, "description": {"type": "string"},
                  "type": {"type": "string"}, "required": {"type": "boolean"}, "unique": {"type": "boolean"},
                  "validate": {"type": "array", "items": {"type": "string"}},
                  "count": {"type": "integer", "minimum": 0},
                  "values": {"type": "array", "items": {"type": "object", "required": ["id", "value"], "properties": {
                      "id": id_schema(), "value": {"type": "string"}}}}}}
INFO = {"type": "object", "properties": {
    "add_columns": {"type": "array", "items": INFO_FIELD}, "edit_columns": {"type": "array", "items": INFO_FIELD},
    "add_title": {"type": "string"}, "edit_title": {"type": "string"},
    "filters": {"type": "object", "additionalProperties": {"type": "array", "items": {
        "type": "object", "required": ["name", "operator"],
        "properties": {"name": {"type": "string"}, "operator": {"type": "string"}}}}},
    "permissions": {"type": "array", "items": {"type": "string", "enum": [
        "can_info", "can_get", "can_post", "can_put", "can_delete"]}}}}


def security_paths() -> dict[str, Any]:
    """Sign-in and token refresh (FAB's SecurityApi)."""
    # FAB's login schema refuses unknown fields (400 "Unknown field."), so the document says so
    login = {"type": "object", "required": ["username", "password", "provider"], "additionalProperties": False,
             "properties": {
        # a JSON body holds no NUL anywhere (app/web/request_guard.py)
        "username": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\x00]*$"},
        "password": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\x00]*$"},
        "provider": {"type": "string", "enum": ["db"]}, "refresh": {"type": "boolean"}}}
    tokens = {"type": "object", "required": ["access_token"], "properties": {
        "access_token": {"type": "string"}, "refresh_token": {"type": "string"}}}
    return {
        "/api/v1/security/login": {"post": _operation(
            "login", "security", "Sign in: a JWT access token (and a refresh token)",
            {"200": {"description": "Signed in", "content": _json(tokens)}}, codes=(415, 422, 429), body=login,
            security=[])},
        "/api/v1/security/refresh": {"post": _operation(
            "refresh", "security", "A new access token for a refresh token",
            {"200": {"description": "A new access token", "content": _json(tokens)}},
            codes=(422,), security=[{"jwt_refresh": []}])},
    }


def document(apis: Iterable[Any], title: str) -> dict[str, Any]:
    """The whole OpenAPI 3.0 document for the API classes `apis` (registered instances)."""
    paths: dict[str, Any] = {**security_paths()}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA, "Info": INFO}
    for api in apis:
        resource = ResourceDoc(api)
        paths.update(resource.paths())
        schemas.update(resource.schemas())
    paths["/api/v1/_openapi"] = {"get": _operation(
        "openapi", "meta", "This document", {"200": {"description": "The OpenAPI document",
                                                     "content": _json({"type": "object"})}})}
    responses = {str(code): {"description": text, "content": _json(ERROR)} for code, text in ERROR_TEXTS.items()}
    responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"},
                                                        "description": "Bearer"}}
    responses["503"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "v1",
                 "description": "The CRM's REST API. Errors are all `{message, status}` (see docs/api.md)."},
        "paths": paths,
        "components": {
            "schemas": schemas, "responses": responses,
            "securitySchemes": {"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                                "jwt_refresh": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
