"""No user input produces a 500, nothing stored is lost, text is shown escaped.

Table-driven over every add form: each field gets over-long strings, wrong
types, HTML/script, SQL-looking text, CJK, emoji and control characters.
"""
from __future__ import annotations

import json
import os
from typing import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.apps import TEMPLATE, make_app
from tests.support.client import login
from tests.support.htmlforms import form_fields
from tests.support.screens import LOCATIONS, parents, screens

ACCEPTED_TEXT = ["<script>alert('x')</script>", "'; DROP TABLE customers; --", "华为技术有限公司",
                 "😀🚀 emoji ok", "O'Brien & Sons \"quoted\""]
REFUSED_TEXT = ["bad\x00nul", "bell\x07char"]


def too_long(field: str) -> str:
    """One character more than the column holds (VARCHAR(255), or the form's TEXT cap)."""
    return "x" * (100_001 if field == "description" else 256)
REFUSED_BY_KIND = {
    "industry": ["Canaries", "<script>alert(1)</script>"],  # a documented value only (app/models/choices.py)
    "revenue": ["abc", "-5", "NaN", "Infinity", "1e400", "10000000000000000"],
    "value": ["abc", "-0.01", "NaN", "sNaN", "99999999999999999999"],
    "close_date": ["2026-13-45", "yesterday", "9999999-01-01"],
    "activity_date": ["2026-02-30 10:00:00", "now", "'; select 1"],
    "generated_at": ["not a date"],
    "customer": ["abc", "999999", "-1", "1 OR 1=1", "1" * 40],
    "contact": ["abc", "999999", "0x10"],
    "status": ["bogus", "NEW"], "stage": ["closing"], "priority": ["critical"], "type": ["party"],
    "email": ["not-an-email", "a@b", "two@@example.com"],
    "phone": ["call me", "12", "+86 138 <script>"],
    "data": ["{not json", "[1, 2]", "\"just a string\""],
}
SCREENS = screens({"customer": "0", "contact": "0"})


# One database and one signed-in admin for the module's ~180 cases: each case compares the row
# count before and after its own request, so the rows earlier cases added do not matter.
@pytest.fixture(scope="module")
def app(pg) -> Iterator[Flask]:
    from app.extensions import db

    name = f"crm_test_bad_input_{os.getpid()}"
    application = make_app(pg, pg.create_database(name, template=TEMPLATE))
    yield application
    with application.app_context():
        db.engine.dispose()
    pg.drop_database(name)


@pytest.fixture(scope="module")
def sql(app: Flask):
    from tests.support.users import sql_as

    return sql_as(app)


@pytest.fixture(scope="module")
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def _cases():
    for screen in SCREENS:
        for name in screen.text_fields:
            for value in ACCEPTED_TEXT:
                yield pytest.param(screen.url, name, value, True, id=f"{screen.table}-{name}-ok-{value[:8]}")
            for value in REFUSED_TEXT + [too_long(name)]:
                yield pytest.param(screen.url, name, value, False, id=f"{screen.table}-{name}-bad-{value[:8]!r}")
        for name, values in REFUSED_BY_KIND.items():
            if name in screen.valid:
                for value in values:
                    yield pytest.param(screen.url, name, value, False, id=f"{screen.table}-{name}-{value[:10]}")


@pytest.mark.parametrize("url,field,value,accepted", list(_cases()))
def test_add_form_input(admin, sql, url, field, value, accepted):
    ids = parents(sql)
    screen = next(s for s in screens(ids) if s.url == url)
    before = sql(f"SELECT count(*) FROM {screen.table}")[0][0]
    data = form_fields(admin.get(f"{url}/add").get_data(as_text=True))
    data.update(screen.valid)
    data[field] = value
    response = admin.post(f"{url}/add", data=data)
    assert response.status_code in (200, 302), response.status_code
    after = sql(f"SELECT count(*) FROM {screen.table}")[0][0]
    if accepted:
        assert response.status_code == 302 and after == before + 1
        (stored,), = sql(f"SELECT {field} FROM {screen.table} ORDER BY {screen.pk} DESC LIMIT 1")
        assert stored == value
        page = admin.get(f"{url}/list/").get_data(as_text=True)
        assert "<script>alert(" not in page
    else:
        assert response.status_code == 200, f"{field}={value!r} was accepted"
        assert after == before
        assert "has-error" in response.get_data(as_text=True) or "alert-danger" in response.get_data(as_text=True)


def test_report_data_is_stored_as_json_object(admin, sql):
    data = form_fields(admin.get("/reports/add").get_data(as_text=True))
    data.update({"report_type": "customers_by_location", "data": json.dumps(LOCATIONS, ensure_ascii=False),
                 "generated_at": "2026-11-01 08:00:00"})
    assert admin.post("/reports/add", data=data).status_code == 302
    assert sql("SELECT jsonb_typeof(data), data->'locations'->0->>'location' FROM reports "
               "WHERE report_type = 'customers_by_location' ORDER BY report_id DESC LIMIT 1")[0] == ("object", "深圳")


@pytest.mark.parametrize("query", [
    "page_CustomerView=abc", "page_CustomerView=-5", "psize_CustomerView=-1", "psize_CustomerView=abc",
    "psize_CustomerView=100000000000000000000", "_oc_CustomerView=nonexistent&_od_CustomerView=asc",
    "_oc_CustomerView=name&_od_CustomerView=sideways", "_flt_0_name=%27%3B+DROP+TABLE+x",
    "_flt_0_revenue=abc", "_flt_1_revenue=1e999", "_flt_0_updated_at=notadate", "_flt_0_customer_id=abc",
    "_flt_99_name=x", "_flt_0_nosuchcolumn=x", "_flt_0_name=%00",
])
def test_list_arguments_never_500(admin, query):
    response = admin.get(f"/customers/list/?{query}")
    assert response.status_code in (200, 302, 400, 404), response.status_code


@pytest.mark.parametrize("path", ["/customers/show/abc", "/customers/show/99999999999",
                                  "/customers/edit/-1", "/customers/show/%27"])
def test_bad_record_addresses_are_404(admin, path):
    assert admin.get(path).status_code == 404


def test_nul_in_the_address_is_a_400(admin):
    assert admin.get("/contacts/show/1%00").status_code == 400
