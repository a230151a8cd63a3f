"""What the OpenAPI document promises, through real HTTP (issue 25): types, one error shape, methods."""
from __future__ import annotations

import re

import pytest


def test_document_declares_types_as_returned(client, token):
    spec = client.get("/api/v1/_openapi", headers=token).get_json()
    schemas = spec["components"]["schemas"]
    assert schemas["Customer"]["properties"]["customer_id"]["type"] == "integer"
    revenue = schemas["Customer"]["properties"]["revenue"]
    assert revenue["type"] == "string" and revenue["maximum"] == 9999999999999999.99 and revenue["minimum"] == 0
    assert schemas["Customer"]["properties"]["created_at"]["format"] == "date-time"
    assert schemas["Lead"]["properties"]["status"]["enum"] == ["new", "following up", "qualified", "converted", "lost"]
    assert schemas["Ticket.post"]["properties"]["priority"]["enum"] == ["low", "medium", "high", "urgent"]
    customer = schemas["Contact.post"]["properties"]["customer"]
    assert customer["type"] == "integer" and "`customers`" in customer["description"]
    assert "customers" in schemas["Contact"]["properties"]["customer_id"]["description"]
    assert schemas["Customer.put"]["minProperties"] == 1 and "required" not in schemas["Customer.put"]
    update = spec["paths"]["/api/v1/customers/{pk}"]["put"]["responses"]
    for code in ("400", "401", "403", "404", "405", "409", "413", "414", "422"):
        assert code in update
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["message"]["type"] == "string" and error["required"] == ["message", "status"]


def test_values_come_back_as_declared(client, token):
    created = client.post("/api/v1/activities/", headers=token, json={
        "type": "call", "subject": "Call", "activity_date": "2026-11-20T10:30:00+08:00"})
    assert created.status_code == 201, created.get_json()
    row = client.get(f"/api/v1/activities/{created.get_json()['id']}", headers=token).get_json()["result"]
    assert row["activity_date"] == "2026-11-20T02:30:00+00:00"  # converted to UTC, offset shown
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", row["created_at"])
    assert isinstance(row["activity_id"], int)
    customer = client.post("/api/v1/customers/", headers=token, json={"name": "Exact", "revenue": "10.5"})
    assert customer.get_json()["result"]["revenue"] == "10.50"
    listed = client.get("/api/v1/customers/", headers=token).get_json()["result"]
    assert listed[0]["revenue"] == "10.50" and listed[0]["updated_at"].endswith("+00:00")


@pytest.mark.parametrize("body", [{"name": "Float", "revenue": 10.5}, {"name": "Lead zero", "revenue": "010"},
                                  {"name": "   "}, {"name": ""}, {"name": "ok", "nosuch": 1}])
def test_a_refusal_is_one_shape_with_a_string_message(client, token, sql, body):
    response = client.post("/api/v1/customers/", headers=token, json=body)
    answer = response.get_json()
    assert response.status_code == 422 and answer["status"] == 422, answer
    assert isinstance(answer["message"], str) and set(answer["errors"]) <= set(body)
    assert sql("SELECT count(*) FROM customers") == [(0,)]


def test_put_is_partial_and_needs_a_field(client, token, sql):
    (cid,), = sql("INSERT INTO customers (name, industry) VALUES ('Keep', 'Retail') RETURNING customer_id")
    before = sql("SELECT * FROM customers")
    empty = client.put(f"/api/v1/customers/{cid}", headers=token, json={})
    assert empty.status_code == 422 and isinstance(empty.get_json()["message"], str)
    assert sql("SELECT * FROM customers") == before
    assert client.put(f"/api/v1/customers/{cid}", headers=token, json={"location": "Oslo"}).status_code == 200
    assert sql("SELECT name, industry, location FROM customers") == [("Keep", "Retail", "Oslo")]
    blank = client.put(f"/api/v1/customers/{cid}", headers=token, json={"name": " "})
    assert blank.status_code == 422 and "name" in blank.get_json()["errors"]


def test_undeclared_methods_are_405_and_options_tells_the_real_ones(client, token):
    refused = client.put("/api/v1/leads/_info", headers=token, json={"status": "new"})
    assert refused.status_code == 405 and refused.get_json() == {
        "message": refused.get_json()["message"], "status": 405}
    assert set(refused.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert client.delete("/api/v1/leads/", headers=token).status_code == 405
    options = client.options("/api/v1/leads/_info", headers=token)
    assert set(options.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    row = client.options("/api/v1/leads/1", headers=token)
    assert set(row.headers["Allow"].split(", ")) == {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
    assert client.get("/api/v1/leads/abc", headers=token).status_code == 404


def test_oversized_calls_are_413_and_414_in_the_error_shape(client, token, sql):
    long_url = client.get("/api/v1/customers/?q=(page:0)&x=" + "a" * 9000, headers=token)
    assert long_url.status_code == 414 and long_url.get_json()["status"] == 414
    big = client.post("/api/v1/customers/", headers=token, json={"name": "Big", "industry": "x" * 2**21})
    assert big.status_code == 413 and big.get_json()["status"] == 413
    assert sql("SELECT count(*) FROM customers") == [(0,)]


def test_q_is_checked_against_its_declared_schema(client, token):
    for q in ("(page:-1)", "(page_size:101)", "(order_column:revenue)", "(nosuch:1)",
              "(filters:!((col:name,opr:ct,value:1)))", "(filters:!((col:customer_id,opr:eq,value:1)))",
              "(columns:!(nosuch))"):
        response = client.get("/api/v1/customers/", headers=token, query_string={"q": q})
        assert response.status_code == 400 and isinstance(response.get_json()["message"], str), q
    ok = client.get("/api/v1/customers/", headers=token,
                    query_string={"q": '{"page": 0, "filters": [{"col": "name", "opr": "ct", "value": "a"}]}'})
    assert ok.status_code == 200


def test_a_missing_related_row_is_404_and_a_referenced_row_409(client, token, sql):
    missing = client.post("/api/v1/contacts/", headers=token,
                          json={"customer": 99999, "first_name": "A", "last_name": "B"})
    assert missing.status_code == 404 and "99999" in missing.get_json()["errors"]["customer"][0]
    malformed = client.post("/api/v1/contacts/", headers=token,
                            json={"customer": "x", "first_name": "A", "last_name": "B"})
    assert malformed.status_code == 422 and "customer" in malformed.get_json()["errors"]
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Parent') RETURNING customer_id")
    sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'a', 'b')", c=cid)
    refused = client.delete(f"/api/v1/customers/{cid}", headers=token)
    assert refused.status_code == 409 and refused.get_json()["status"] == 409
    assert sql("SELECT count(*) FROM contacts") == [(1,)]


def test_unknown_arguments_are_400_and_a_json_q_is_read_as_sent(client, token, sql):
    sql("INSERT INTO customers (name) VALUES ('a+b&c'), ('a b')")
    assert client.get("/api/v1/customers/_info?_id=1", headers=token).status_code == 400
    assert client.get("/api/v1/customers/?_l_=zh", headers=token).status_code == 200
    q = '{"filters": [{"col": "name", "opr": "eq", "value": "a+b&c"}]}'  # FAB would decode it twice
    response = client.get("/api/v1/customers/", headers=token, query_string={"q": q})
    assert [row["name"] for row in response.get_json()["result"]] == ["a+b&c"]


def test_every_api_route_served_is_in_the_document(app, client, token):
    """Nothing under /api/ is served undocumented: FAB's menu API, which no page reads, is not served."""
    paths = client.get("/api/v1/_openapi", headers=token).get_json()["paths"]
    served = [(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule).replace("{version}", "v1"), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              for method in rule.methods - {"HEAD", "OPTIONS"}]
    assert len(served) > 30
    undocumented = sorted((path, method) for path, method in served if method not in paths.get(path, {}))
    assert not undocumented, undocumented
    assert client.get("/api/v1/menu/", headers=token).status_code == 404
