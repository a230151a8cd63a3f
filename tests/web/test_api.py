"""REST API (contract §3): JWT login, CRUD, clear 4xx on bad input."""
from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.apps import ADMIN_PASSWORD
from tests.support.htmlforms import form_fields
from tests.support.screens import parents, screens
from tests.support.users import as_admin

RESOURCES = ["customers", "contacts", "leads", "opportunities", "activities", "tickets"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_list_needs_a_token_and_works_with_one(client, token, resource):
    assert client.get(f"/api/v1/{resource}/").status_code == 401
    response = client.get(f"/api/v1/{resource}/", headers=token)
    assert response.status_code == 200 and response.get_json()["count"] == 0


def test_create_read_update_delete_customer(client, token, sql):
    response = client.post("/api/v1/customers/", headers=token,
                           json={"name": "API 客户", "industry": "Retail", "revenue": "1000"})
    assert response.status_code == 201, response.get_json()
    pk = response.get_json()["id"]
    assert client.get(f"/api/v1/customers/{pk}", headers=token).get_json()["result"]["name"] == "API 客户"
    assert client.put(f"/api/v1/customers/{pk}", headers=token, json={"industry": "Energy"}).status_code == 200
    assert sql("SELECT industry FROM customers WHERE customer_id = :c", c=pk)[0][0] == "Energy"
    assert client.delete(f"/api/v1/customers/{pk}", headers=token).status_code == 200
    assert sql("SELECT count(*) FROM customers")[0][0] == 0


@pytest.mark.parametrize("body", [
    {"name": "x" * 300}, {"name": "ok", "revenue": -4}, {"revenue": 5}, {"name": None},
    {"name": "ok", "revenue": "lots"},
])
def test_bad_customer_bodies_are_4xx_and_store_nothing(client, token, sql, body):
    response = client.post("/api/v1/customers/", headers=token, json=body)
    assert 400 <= response.status_code < 500, response.get_json()
    assert "SELECT" not in str(response.get_json()) and "INSERT" not in str(response.get_json())
    assert sql("SELECT count(*) FROM customers")[0][0] == 0


def test_refused_delete_is_409_with_reason(client, token, sql):
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Parent') RETURNING customer_id")
    sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'a', 'b')", c=cid)
    response = client.delete(f"/api/v1/customers/{cid}", headers=token)
    assert response.status_code == 409 and "contacts" in response.get_json()["message"]
    assert sql("SELECT count(*) FROM customers")[0][0] == 1


def test_openapi_document_lists_the_resources(client, token):
    spec = client.get("/api/v1/_openapi", headers=token).get_json()
    for resource in RESOURCES:
        assert f"/api/v1/{resource}/" in spec["paths"]


REP_PASSWORD = "Sales-rep-password-2026"
NEW_PASSWORD = "Brand-new-password-77"


def _rep_tokens(client) -> tuple[dict, str]:
    """A Sales Rep's access header and refresh token from the API's login."""
    response = client.post("/api/v1/security/login", json={"username": "rep", "password": REP_PASSWORD,
                                                           "provider": "db", "refresh": True})
    assert response.status_code == 200
    body = response.get_json()
    return {"Authorization": f"Bearer {body['access_token']}"}, body["refresh_token"]


def _refresh(client, refresh_token: str):
    return client.post("/api/v1/security/refresh", headers={"Authorization": f"Bearer {refresh_token}"})


def _admin_resets(app, sql):
    from tests.support.client import csrf_token, login

    admin = app.test_client()
    login(admin)
    (uid,), = sql("SELECT user_id FROM users WHERE username = 'rep'")
    url = f"/resetpassword/form?pk={uid}"
    response = admin.post(url, data={"password": NEW_PASSWORD, "conf_password": NEW_PASSWORD,
                                     "csrf_token": csrf_token(admin, url)})
    assert response.status_code == 302


def _rep_changes_own(app, sql):
    from tests.support.client import csrf_token, login

    rep = app.test_client()
    login(rep, "rep", REP_PASSWORD)
    url = "/resetmypassword/form"
    response = rep.post(url, data={"password": NEW_PASSWORD, "conf_password": NEW_PASSWORD,
                                   "csrf_token": csrf_token(rep, url)})
    assert response.status_code == 302


def _cli_resets(app, sql):
    result = app.test_cli_runner().invoke(args=["crm", "user", "reset-password", "rep", "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output


def _cli_create_admin_resets(app, sql):
    result = app.test_cli_runner().invoke(args=["crm", "create-admin", "--username", "rep",
                                                "--password", NEW_PASSWORD])
    assert result.exit_code == 0 and "reset" in result.output, result.output


@pytest.mark.parametrize("change", [_admin_resets, _rep_changes_own, _cli_resets, _cli_create_admin_resets],
                         ids=["admin screen", "own profile", "crm user reset-password", "crm create-admin"])
def test_a_password_change_revokes_the_users_api_tokens(app, client, sql, change):
    from tests.support.users import make_user

    make_user(app, password=REP_PASSWORD)
    make_user(app, "other", password=REP_PASSWORD)
    other = client.post("/api/v1/security/login", json={"username": "other", "password": REP_PASSWORD,
                                                        "provider": "db"}).get_json()["access_token"]
    access, refresh = _rep_tokens(client)
    assert client.get("/api/v1/customers/", headers=access).status_code == 200
    assert _refresh(client, refresh).status_code == 200
    change(app, sql)
    assert client.get("/api/v1/customers/", headers=access).status_code == 401
    assert _refresh(client, refresh).status_code == 401
    # another user's tokens live on; the new password gives tokens that work
    assert client.get("/api/v1/customers/", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    response = client.post("/api/v1/security/login", json={"username": "rep", "password": NEW_PASSWORD,
                                                           "provider": "db", "refresh": True})
    fresh = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
    assert client.get("/api/v1/customers/", headers=fresh).status_code == 200
    assert _refresh(client, response.get_json()["refresh_token"]).status_code == 200


def test_csrf_exemption_needs_a_valid_bearer_token_of_the_signed_in_user(app, admin, sql):
    """The admin's browser session carrying an Authorization header is still checked for CSRF."""
    from tests.support.users import make_user

    make_user(app, password=REP_PASSWORD)
    rep_access, _refresh_token = _rep_tokens(app.test_client())
    for header in ({"Authorization": "Bearer not-a-token"}, rep_access, {"Authorization": "Bearer "}):
        response = admin.post("/api/v1/customers/", json={"name": "Forged"}, headers=header)
        assert response.status_code == 400, header
    assert sql("SELECT count(*) FROM customers") == [(0,)]
    # the signed-in admin's own valid token: the call is authenticated by it
    own = app.test_client().post("/api/v1/security/login", json={
        "username": "admin", "password": ADMIN_PASSWORD, "provider": "db"}).get_json()["access_token"]
    response = admin.post("/api/v1/customers/", json={"name": "Own token"},
                          headers={"Authorization": f"Bearer {own}"})
    assert response.status_code == 201
    # without a session cookie there is nothing to forge: a bad token gets the API's own answer
    # (401, also for a malformed one), not a CSRF error; a good one works
    anonymous = app.test_client()
    assert anonymous.post("/api/v1/customers/", json={"name": "No"},
                          headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert anonymous.post("/api/v1/customers/", json={"name": "Token"}, headers=rep_access).status_code == 201
    assert sorted(sql("SELECT name FROM customers")) == [("Own token",), ("Token",)]


# One rule set (app.crud.derive.column_validators): what a form refuses, the API refuses, and the other way round.
# (resource, field, value); the rest of the record is the screen's valid example (tests/support/screens.py)
SAME_RULES = [
    ("customers", "name", "bell\x07char"), ("customers", "industry", "esc\x1b[31m"),
    ("customers", "name", ""), ("customers", "name", "   "), ("customers", "name", "x" * 256),
    ("customers", "revenue", "1.234"), ("customers", "revenue", "0.001"),
    ("customers", "revenue", "10000000000000000"), ("customers", "revenue", "-0.01"),
    ("contacts", "first_name", ""), ("contacts", "email", "two@@example.com"), ("contacts", "phone", "x" * 51),
    ("activities", "subject", ""), ("activities", "subject", " \u3000 "), ("activities", "subject", "tab\x0bvertical"), ("activities", "type", "party"),
    ("activities", "activity_date", "10000-01-01 00:00:00"),
    ("opportunities", "value", "99.999"), ("opportunities", "close_date", "2026-02-30"),
    ("opportunities", "stage", "closing"), ("leads", "status", "NEW"), ("tickets", "priority", "critical"),
]


def _api_body(resource: str, ids: dict[str, str]) -> dict:
    """A valid API body for a resource (numbers as JSON numbers, related rows by id)."""
    screen = next(s for s in screens(ids) if s.url == f"/{resource}")
    body: dict = {}
    for name, value in screen.valid.items():
        if name in ("customer", "contact"):
            body[name] = int(value)
        elif name in ("revenue", "value"):
            body[name] = value  # amounts are decimal strings
        else:
            body[name] = value
    return body


@pytest.mark.parametrize("resource,field,value", SAME_RULES)
def test_api_refuses_what_the_forms_refuse(client, token, sql, resource, field, value):
    ids = parents(sql)
    screen = next(s for s in screens(ids) if s.url == f"/{resource}")
    table = screen.table
    before = sql(f"SELECT count(*) FROM {table}")[0][0]
    body = _api_body(resource, ids)
    assert client.post(f"/api/v1/{resource}/", headers=token, json=body).status_code == 201
    (pk,), = sql(f"SELECT max({screen.pk}) FROM {table}")
    stored = sql(f"SELECT * FROM {table}")
    numeric = field in ("revenue", "value")
    for sent in ([value, float(value)] if numeric and len(value) < 15 else [value]):
        refused = client.post(f"/api/v1/{resource}/", headers=token, json={**body, field: sent})
        assert refused.status_code in (400, 422), (sent, refused.get_json())
        assert field in str(refused.get_json()["message"])
        changed = client.put(f"/api/v1/{resource}/{pk}", headers=token, json={field: sent})
        assert changed.status_code in (400, 422), (sent, changed.get_json())
    assert sql(f"SELECT count(*) FROM {table}")[0][0] == before + 1
    assert sql(f"SELECT * FROM {table}") == stored


@pytest.mark.parametrize("resource,field,value", SAME_RULES)
def test_the_forms_refuse_the_same_values(admin, sql, resource, field, value):
    ids = parents(sql)
    screen = next(s for s in screens(ids) if s.url == f"/{resource}")
    data = {**form_fields(admin.get(f"/{resource}/add").get_data(as_text=True)), **screen.valid, field: value}
    before = sql(f"SELECT count(*) FROM {screen.table}")[0][0]
    response = admin.post(f"/{resource}/add", data=data)
    assert response.status_code == 200 and "alert alert-danger" in response.get_data(as_text=True)
    assert sql(f"SELECT count(*) FROM {screen.table}")[0][0] == before


def test_api_keeps_two_decimals_exactly(client, token, app):
    from app.extensions import db
    from app.models import Customer

    response = client.post("/api/v1/customers/", headers=token, json={"name": "Exact", "revenue": "1234.50"})
    assert response.status_code == 201, response.get_json()

    with as_admin(app):  # row-level security: the admin sees every row
        assert db.session.get(Customer, response.get_json()["id"]).revenue == Decimal("1234.50")
