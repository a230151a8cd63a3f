"""Schemathesis over every operation of /api/v1/_openapi, with all its checks (issue 25).

The app runs in-process (WSGI) on a database of its own, signed in as admin with a
JWT from /api/v1/security/login. Each operation gets a bounded number of examples
from a fixed seed; any finding fails. Another seed or more examples:
CRM_SCHEMATHESIS_SEED=7 CRM_SCHEMATHESIS_EXAMPLES=200 pytest tests/web/test_api_schemathesis.py

The operations are collected from the document as the app derives it, built while the
module is collected (no database needed): Schemathesis's lazy loader (`from_fixture`)
sets `Function._nodeid`, which pytest 9 no longer has. `test_the_document_is_valid_openapi`
checks that the served document is that same one.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
import schemathesis
# Imported here, not lazily inside a check: pytest rewrites the asserts of a plugin's modules as they are
# imported, and CPython 3.11 failed that compile deep in Hypothesis' stack once on CI
# ("SystemError: AST constructor recursion depth mismatch", a flaky POST /api/v1/security/login).
import schemathesis.specs.openapi.object_authorization  # noqa: F401
from flask import Flask
from hypothesis import HealthCheck, given, seed, settings
from openapi_spec_validator import validate

from tests.support.apps import ADMIN_PASSWORD, make_app
from tests.support.openapi import offline_document
from tests.support.users import act_as

SEED = int(os.environ.get("CRM_SCHEMATHESIS_SEED", "25"))
EXAMPLES = int(os.environ.get("CRM_SCHEMATHESIS_EXAMPLES", "10"))
PARENTS = [
    "INSERT INTO customers (name) VALUES ('Parent') RETURNING customer_id",
    "INSERT INTO contacts (customer_id, first_name, last_name) VALUES (1, 'A', 'B') RETURNING contact_id",
]


@pytest.fixture(scope="module")
def api_app(pg) -> Iterator[Flask]:
    name = f"crm_test_schemathesis_{os.getpid()}"  # one per xdist worker
    url = pg.create_database(name, template="crm_test_template")
    app = make_app(pg, url, JWT_ACCESS_TOKEN_EXPIRES=timedelta(hours=4))  # a long run keeps its token
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context(), db.engine.begin() as conn:
        act_as(conn, "admin")  # row-level security: a row is written by someone
        for statement in PARENTS:  # rows a generated foreign key may name
            conn.execute(text(statement))
    yield app
    with app.app_context():
        db.engine.dispose()
    pg.drop_database(name)


@pytest.fixture(scope="module")
def bearer(api_app) -> dict[str, str]:
    response = api_app.test_client().post("/api/v1/security/login", json={
        "username": "admin", "password": ADMIN_PASSWORD, "provider": "db"})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


DOCUMENT = offline_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
# A schema-violating request may also be refused for its size (413 body, 414 address; the document
# declares both): a refusal all the same. Schemathesis's default list of refusals lacks these two.
REJECTIONS = schema.config.checks.negative_data_rejection.expected_statuses
schema.config.checks.negative_data_rejection.expected_statuses = [*REJECTIONS, "413", "414"]


def test_the_document_is_valid_openapi(api_app, bearer):
    response = api_app.test_client().get("/api/v1/_openapi", headers=bearer)
    assert response.status_code == 200
    validate(response.get_json())  # raises on the first error
    assert response.get_json() == DOCUMENT


# One test item per operation, each with its own id: pytest-xdist runs items by id, and
# Schemathesis's own `schema.parametrize()` gives all of them one id (pytest 9), so a worker
# would have run only the first operation.
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_every_operation_keeps_its_contract(operation, api_app, bearer):
    # the schema and its operations were collected before the app existed
    operation.schema.app = operation.app = api_app

    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def examples(case) -> None:
        # uncompressed: Schemathesis sends requests' default Accept-Encoding (gzip, br) and reads a WSGI
        # answer's bytes undecoded (compression itself: tests/web/test_light_pages.py)
        case.call_and_validate(headers={**bearer, "Accept-Encoding": "identity"})

    examples()
