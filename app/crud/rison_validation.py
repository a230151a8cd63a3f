"""FAB's `@rison(schema)` API decorator calls `jsonschema.validate`, which first checks the schema
itself against its metaschema: on every request, a third of an API list request's CPU. Here each
schema gets one validator, its schema checked once; requests are validated exactly as before."""
from __future__ import annotations

import types
from typing import Any

import flask_appbuilder.api as fab_api
import jsonschema

# id(schema) -> (schema, validator): the schema is kept so its id is never reused by another object
_VALIDATORS: dict[int, tuple[Any, Any]] = {}


def validate(instance: Any, schema: dict) -> None:
    """`jsonschema.validate(instance, schema)`, with the schema's validator built and checked once."""
    known = _VALIDATORS.get(id(schema))
    if known is None or known[0] is not schema:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        known = _VALIDATORS[id(schema)] = (schema, cls(schema))
    error = jsonschema.exceptions.best_match(known[1].iter_errors(instance))
    if error is not None:
        raise error


def init_rison_validation() -> None:
    """Point FAB's API module at `validate` (it uses jsonschema only for `validate` and `ValidationError`)."""
    fab_api.jsonschema = types.SimpleNamespace(validate=validate, ValidationError=jsonschema.ValidationError)
