"""REST API (contract §3): JWT login, CRUD, clear 4xx on bad input."""
from __future__ import annotations

import pytest

from tests.conftest import ADMIN_PASSWORD

RESOURCES = ["customers", "contacts", "leads", "opportunities", "activities", "tickets"]


@pytest.fixture
def token(client) -> dict:
    response = client.post("/api/v1/security/login",
                           json={"username": "admin", "password": ADMIN_PASSWORD, "provider": "db"})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


@pytest.mark.parametrize("resource", RESOURCES)
def test_list_needs_a_token_and_works_with_one(client, token, resource):
    assert client.get(f"/api/v1/{resource}/").status_code == 401
    response = client.get(f"/api/v1/{resource}/", headers=token)
    assert response.status_code == 200 and response.get_json()["count"] == 0


def test_create_read_update_delete_customer(client, token, sql):
    response = client.post("/api/v1/customers/", headers=token,
                           json={"name": "API 客户", "industry": "Retail", "revenue": 1000})
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


def test_refused_delete_is_422_with_reason(client, token, sql):
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Parent') RETURNING customer_id")
    sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'a', 'b')", c=cid)
    response = client.delete(f"/api/v1/customers/{cid}", headers=token)
    assert response.status_code == 422 and "contacts" in response.get_json()["message"]
    assert sql("SELECT count(*) FROM customers")[0][0] == 1


def test_openapi_document_lists_the_resources(client, token):
    spec = client.get("/api/v1/_openapi", headers=token).get_json()
    for resource in RESOURCES:
        assert f"/api/v1/{resource}/" in spec["paths"]
