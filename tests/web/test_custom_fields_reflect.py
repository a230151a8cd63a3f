"""Custom fields reflected on every screen, filter, search, export and the API, with no restart.

One database of its own (these tests add columns) and two apps on it, as two app servers would
be: a field added through SQL as the owner (with its catalogue row and the version bump the
field commands make) shows on both, and a hidden one on neither.
"""
from __future__ import annotations

import io
import csv
import json
import os
import time
from decimal import Decimal
from typing import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.apps import ADMIN_PASSWORD, TEMPLATE, make_app
from tests.support.client import login, post_form, switch_language
from tests.support.fields import owner_runner
from tests.web.test_csv_import import confirm, problems, upload

CHOICES = [{"value": "gold", "label_en": "Gold tier", "label_zh": "金牌"},
           {"value": "silver", "label_en": "Silver tier", "label_zh": "银牌"}]


@pytest.fixture(scope="module")
def dbname(pg) -> Iterator[str]:
    name = f"crm_test_fields_reflect_{os.getpid()}"
    pg.create_database(name, template=TEMPLATE)
    yield name
    pg.drop_database(name)


@pytest.fixture(scope="module")
def owner(pg, dbname):
    """Plain SQL as the schema owner (what the field commands and a DBA do)."""
    run = owner_runner(pg, dbname)
    yield run
    run.engine.dispose()


def _app(pg, dbname) -> Iterator[Flask]:
    from app.extensions import db

    application = make_app(pg, pg.url(dbname))
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def app(pg, dbname) -> Iterator[Flask]:
    yield from _app(pg, dbname)


@pytest.fixture(scope="module")
def other_app(pg, dbname, app) -> Iterator[Flask]:
    yield from _app(pg, dbname)


@pytest.fixture(scope="module")
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def add_field(owner, table: str, name: str, ddl: str, field_type: str | None, label_en: str = "",
              label_zh: str = "", choices=None, required: bool = False, financial: bool = False) -> None:
    """What `crm fields add` does (or a DBA's ALTER TABLE when field_type is None): column, row, version."""
    owner(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")
    if field_type:
        owner("INSERT INTO custom_fields (table_name, column_name, field_type, label_en, label_zh, choices, required,"
              " financial) VALUES (:t, :n, :ft, :en, :zh, CAST(:ch AS jsonb), :req, :fin)", t=table, n=name,
              ft=field_type, en=label_en or None, zh=label_zh or None, ch=json.dumps(choices) if choices else None,
              req=required, fin=financial)
    owner("UPDATE crm_schema_version SET version = version + 1")


def api_auth(client: FlaskClient) -> dict[str, str]:
    """The admin's bearer token for the API."""
    signed_in = client.post("/api/v1/security/login",
                            json={"username": "admin", "password": ADMIN_PASSWORD, "provider": "db"})
    return {"Authorization": f"Bearer {signed_in.get_json()['access_token']}"}


def refresh(app: Flask) -> None:
    """As if the throttle's second had passed: the next request checks the version."""
    from app.fields.refresh import CHECK_EVERY, EXTENSION

    app.extensions[EXTENSION].checked_at -= CHECK_EVERY


@pytest.fixture(scope="module")
def fields(owner, app, admin) -> dict[str, int]:
    assert admin.get("/customers/list/").status_code == 200  # the screens as derived at start-up
    client = app.test_client()  # and the API's check of `q`, derived from the columns too
    assert client.get("/api/v1/customers/?q=(order_column:name)", headers=api_auth(client)).status_code == 200
    # stored as app/fields/ddl.py stores each type
    add_field(owner, "customers", "tier", "text", "choice", "Tier", "等级", CHOICES)
    add_field(owner, "customers", "region_note", "text", "text", "Region note", "区域备注")
    add_field(owner, "customers", "headcount", "numeric", "number", "Headcount", "员工人数")
    owner("CREATE INDEX ix_customers_headcount_sort ON customers (headcount, customer_id)")  # as ddl.indexes builds
    add_field(owner, "customers", "signed_on", "date", "date", "Signed on", "签约日期")
    add_field(owner, "customers", "is_vip", "boolean", "boolean", "VIP", "贵宾")
    add_field(owner, "customers", "met_at", "timestamp without time zone", "datetime", "Met at", "会面时间")
    add_field(owner, "customers", "legacy_code", "varchar(40)", None)  # by hand, not catalogued
    add_field(owner, "customers", "credit_cap", "bytea, ADD COLUMN credit_cap_band smallint", "amount", "Credit cap",
              "信用额度", financial=True)
    add_field(owner, "customers", "referred_by", "integer REFERENCES customers ON DELETE SET NULL",
              "link:customers", "Referred by",
              "推荐客户")
    refresh(app)
    customer = owner("INSERT INTO customers (name, tier, region_note, headcount, legacy_code) VALUES "
                     "('Reflected Ltd', 'gold', 'Northern plains office', 120, 'LC-7') RETURNING customer_id")[0][0]
    return {"customer": customer}


def test_list_offers_the_fields_and_shows_their_values(admin, fields):
    page = admin.get("/customers/list/?cols=name,tier,region_note,headcount,legacy_code")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text_ in ("Tier", "Region note", "Headcount", "Legacy code", "Gold tier", "Northern plains office", "LC-7"):
        assert text_ in html, text_
    # sorted only by a field a B-tree leads with: unindexed, millions of rows would be sorted per page
    assert "_oc_CustomerView=headcount" in html and "_oc_CustomerView=region_note" not in html
    sorted_ = admin.get("/customers/list/?cols=name,headcount&_oc_CustomerView=headcount&_od_CustomerView=desc")
    assert sorted_.status_code == 200


def test_show_page_and_forms_have_the_fields(admin, fields):
    show = admin.get(f"/customers/show/{fields['customer']}").get_data(as_text=True)
    assert "Region note" in show and "Northern plains office" in show and "Gold tier" in show
    add = admin.get("/customers/add").get_data(as_text=True)
    for name in ("tier", "region_note", "headcount", "signed_on", "is_vip", "met_at", "legacy_code"):
        assert f'name="{name}"' in add, name
    assert "Silver tier" in add


def test_add_form_validates_by_type_and_saves(admin, fields, owner):
    bad = post_form(admin, "/customers/add", {"name": "Typed Co", "headcount": "many", "tier": "bronze",
                                              "signed_on": "not a date", "met_at": "yesterday"})
    assert bad.status_code == 200  # the form again, with its errors: never a 500
    assert not owner("SELECT 1 FROM customers WHERE name = 'Typed Co'")
    good = post_form(admin, "/customers/add", {"name": "Typed Co", "headcount": "1,250.5", "tier": "silver",
                                               "signed_on": "2026-03-01", "is_vip": "y",
                                               "region_note": "Coastal", "met_at": "2026-03-02 09:30:00"})
    assert good.status_code == 302
    row = owner("SELECT headcount, tier, signed_on::text, is_vip, region_note FROM customers WHERE name = 'Typed Co'")
    assert [tuple(r) for r in row] == [(Decimal("1250.5"), "silver", "2026-03-01", True, "Coastal")]
    assert owner("SELECT met_at IS NOT NULL FROM customers WHERE name = 'Typed Co'")[0][0]


def test_filter_and_quick_search_find_by_the_fields(admin, fields):
    chosen = admin.get("/customers/list/?_flt_0_tier=gold&view=all").get_data(as_text=True)
    assert "Reflected Ltd" in chosen and "Typed Co" not in chosen
    found = admin.get("/customers/list/?q=plains&view=all")
    assert found.status_code == 200 and "Reflected Ltd" in found.get_data(as_text=True)
    by_hand = admin.get("/customers/list/?q=LC-7&view=all").get_data(as_text=True)  # a column not in the list
    assert "Reflected Ltd" in by_hand and "Typed Co" not in by_hand


def test_api_and_openapi_have_the_fields(app, fields):
    client = app.test_client()
    auth = api_auth(client)
    url = f"/api/v1/customers/{fields['customer']}"
    item = client.get(url, headers=auth).get_json()["result"]
    assert item["tier"] == "gold" and item["region_note"] == "Northern plains office" and item["legacy_code"] == "LC-7"
    refused = client.put(url, json={"tier": "bronze", "headcount": "many"}, headers=auth)
    assert refused.status_code == 422 and {"tier", "headcount"} <= set(refused.get_json()["errors"])
    put = client.put(url, json={"tier": "silver", "signed_on": "2026-05-04", "referred_by": 999999}, headers=auth)
    assert put.status_code == 422, put.get_json()  # no such customer: the database's foreign key
    put = client.put(url, json={"tier": "silver", "signed_on": "2026-05-04"}, headers=auth)
    assert put.status_code == 200, put.get_json()
    item = client.get(url, headers=auth).get_json()["result"]
    assert item["tier"] == "silver" and item["signed_on"] == "2026-05-04"
    assert client.get(f"/api/v1/customers/?q=(filters:!((col:tier,opr:eq,value:silver)))",
                      headers=auth).get_json()["count"] == 2  # and Typed Co, added above
    ordered = client.get("/api/v1/customers/?q=(columns:!(name,tier),order_column:headcount,order_direction:desc)",
                         headers=auth)  # `q` checked against the columns as they are now
    assert ordered.status_code == 200 and ordered.get_json()["list_columns"] == ["name", "tier"]
    unindexed = client.get("/api/v1/customers/?q=(order_column:region_note)", headers=auth)
    assert unindexed.status_code == 400, unindexed.get_json()
    schemas = client.get("/api/v1/_openapi", headers=auth).get_json()["components"]["schemas"]
    post = json.dumps({k: v for k, v in schemas.items() if "Customer" in k})
    assert '"tier"' in post and '"region_note"' in post and "silver" in post


def test_bulk_set_history_and_crm_search(admin, fields, owner):
    chosen = f"/customers/bulk/set?ids={fields['customer']}&field=tier"
    assert "Tier" in admin.get(f"/customers/bulk/set?ids={fields['customer']}").get_data(as_text=True)
    page = admin.get(chosen).get_data(as_text=True)
    expected = page.split('name="expected" value="', 1)[1].split('"', 1)[0]
    done = post_form(admin, chosen, {"field": "tier", "tier": "gold", "expected": expected}, form_url=chosen)
    assert done.status_code == 302, done.get_data(as_text=True)[-800:]
    assert owner(f"SELECT tier FROM customers WHERE customer_id = {fields['customer']}")[0][0] == "gold"
    show = admin.get(f"/customers/show/{fields['customer']}").get_data(as_text=True)
    assert "Silver tier" in show and "Gold tier" in show  # the History panel: Tier, Silver tier → Gold tier
    found = admin.get("/search/?q=plains").get_data(as_text=True)
    assert "Reflected Ltd" in found


def test_chinese_labels_and_csv_import_by_either_label(admin, fields, owner):
    switch_language(admin, "zh")
    try:
        page = admin.get("/customers/list/?cols=name,tier,region_note&view=all").get_data(as_text=True)
        assert "等级" in page and "区域备注" in page and "金牌" in page
        header = csv_header(admin.get("/customers/export/?view=all").get_data(as_text=True))
        assert "等级" in header and "区域备注" in header
        content = "Name,等级,Region note,员工人数\r\nImported Co,银牌,Lakeside,7\r\nImported Two,Gold tier,,x\r\n"
        page = upload(admin, "/customers", content).get_data(as_text=True)
        assert "Imported" not in "".join(r[0] for r in owner("SELECT name FROM customers"))
        assert [p[:2] for p in problems(page)] == [("3", "员工人数")]  # no number
        ok = upload(admin, "/customers", content.split("\r\nImported Two")[0] + "\r\n").get_data(as_text=True)
        assert confirm(admin, ok).status_code == 302
        assert [tuple(r) for r in owner("SELECT tier, region_note, headcount FROM customers WHERE name = 'Imported Co'")
                ] == [("silver", "Lakeside", Decimal(7))]
    finally:
        switch_language(admin, "en")


def csv_header(body: str) -> list[str]:
    return next(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def test_csv_export_has_the_fields_by_label(admin, fields):
    body = admin.get("/customers/export/?view=all").get_data(as_text=True)
    assert {"Region note", "Tier", "Legacy code"} <= set(csv_header(body))
    assert "Gold tier" in body or "gold" in body


def test_a_hidden_field_disappears(owner, app, admin, fields):
    owner("UPDATE custom_fields SET state = 'hidden' WHERE table_name = 'customers' AND column_name = 'region_note'")
    owner("UPDATE crm_schema_version SET version = version + 1")
    refresh(app)
    assert "Region note" not in admin.get("/customers/add").get_data(as_text=True)
    assert admin.get("/customers/list/?cols=name,region_note").status_code == 400
    client = app.test_client()
    assert login(client).status_code == 302
    item = client.get(f"/api/v1/customers/{fields['customer']}").get_json()["result"]
    assert "region_note" not in item and item["tier"] == "gold"
    assert "region_note" not in json.dumps(client.get("/api/v1/_openapi").get_json())
    assert owner(f"SELECT region_note FROM customers WHERE customer_id = {fields['customer']}")[0][0]  # data kept


def test_a_field_added_through_one_app_shows_on_the_other(owner, app, other_app, fields):
    client = other_app.test_client()
    assert login(client).status_code == 302
    assert "Budget code" not in client.get("/customers/add").get_data(as_text=True)
    add_field(owner, "customers", "budget_code", "varchar(60)", "text", "Budget code", "预算代码")
    # the next check of the other app, at most CHECK_EVERY (1 s) later, shows it: its second is made to have
    # passed rather than waited for (on a loaded CI machine a wall-clock deadline measured the machine)
    refresh(other_app)
    item = client.get(f"/api/v1/customers/{fields['customer']}").get_json()["result"]
    assert "budget_code" in item, "the other app's next schema check did not show the field"
    assert "Budget code" in client.get("/customers/add").get_data(as_text=True)
    assert "Budget code" in client.get("/customers/list/?cols=name,budget_code").get_data(as_text=True)
    # the view classes are shared by both apps of this process (one app per process in production):
    # the first app's next request checks too, as its own second would have passed, before the next test
    refresh(app)


def test_a_link_field_is_an_ajax_select_of_the_linked_table(admin, fields, owner):
    add = admin.get("/customers/add").get_data(as_text=True)
    select = add.split('name="referred_by"', 1)[1].split(">", 1)[0]
    assert 'data-endpoint="/customers/lookup/"' in select
    refused = post_form(admin, "/customers/add", {"name": "Linked Co", "referred_by": "999999"})
    assert refused.status_code == 200 and "does not exist" in refused.get_data(as_text=True)
    saved = post_form(admin, "/customers/add", {"name": "Linked Co", "referred_by": str(fields["customer"])})
    assert saved.status_code == 302
    assert owner("SELECT referred_by FROM customers WHERE name = 'Linked Co'")[0][0] == fields["customer"]
    page = admin.get("/customers/list/?cols=name,referred_by&q=Linked&view=all").get_data(as_text=True)
    assert "Referred by" in page and "Reflected Ltd" in page


def test_a_financial_amount_is_stored_encrypted_and_shown_plain(admin, owner):
    saved = post_form(admin, "/customers/add", {"name": "Sealed Co", "credit_cap": "12,000.50"})
    assert saved.status_code == 302
    (stored, cid), = owner("SELECT credit_cap, customer_id FROM customers WHERE name = 'Sealed Co'")
    assert stored and b"12000" not in bytes(stored)  # ciphertext, not the amount
    assert "12,000.50" in admin.get(f"/customers/show/{cid}").get_data(as_text=True)
    assert owner(f"SELECT credit_cap_band FROM customers WHERE customer_id = {cid}")[0][0] == 2  # 10K to 100K
    assert 'name="credit_cap_band"' not in admin.get("/customers/add").get_data(as_text=True)


def test_a_dropped_column_is_unmapped_and_can_come_back(owner, app, admin, add_rows_here):
    owner("ALTER TABLE customers DROP COLUMN legacy_code")  # a DBA's drop, then `crm fields sync` bumps
    owner("UPDATE crm_schema_version SET version = version + 1")
    refresh(app)
    assert admin.get("/customers/list/?view=all").status_code == 200
    assert 'name="legacy_code"' not in admin.get("/customers/add").get_data(as_text=True)
    add_rows_here(name="After the drop")  # the ORM's INSERT no longer names the column
    add_field(owner, "customers", "legacy_code", "text", "text", "Legacy code (new)", "旧编码")
    refresh(app)
    assert 'name="legacy_code"' in admin.get("/customers/add").get_data(as_text=True)
    add_rows_here(name="Back again", legacy_code="LC-9")
    assert owner("SELECT legacy_code FROM customers WHERE name = 'Back again'")[0][0] == "LC-9"


@pytest.fixture(scope="module")
def add_rows_here(app: Flask):
    """Insert a customer through the ORM, as the admin."""
    from app.extensions import db
    from app.models import Customer
    from tests.support.users import as_admin

    def run(**row) -> None:
        with as_admin(app):
            db.session.add(Customer(**row))
            db.session.commit()

    return run


def test_a_column_a_dba_drops_by_hand_breaks_no_screen(owner, app, other_app, admin, fields):
    from app.fields.refresh import EXTENSION

    add_field(owner, "customers", "scratch_code", "text", "text", "Scratch code", "草稿编码")
    refresh(app), refresh(other_app)
    assert "Scratch code" in admin.get("/customers/list/?cols=name,scratch_code").get_data(as_text=True)
    api = other_app.test_client()
    assert login(api).status_code == 302
    assert "scratch_code" in api.get(f"/api/v1/customers/{fields['customer']}").get_json()["result"]
    waiting = [upload(admin, "/customers", body).get_data(as_text=True)  # checked, waiting for confirmation
               for body in ("Name,Scratch code\r\nScratched Co,SC-1\r\n", "Name\r\nUnscratched Co\r\n")]
    app.extensions[EXTENSION].checked_at = time.monotonic() + 60  # the throttle's second has not passed
    owner("ALTER TABLE customers DROP COLUMN scratch_code")  # no `crm fields sync`, no version bump
    page = admin.get("/customers/list/?view=all")  # its SELECT fails (42703): reflected, answered again
    assert page.status_code == 200 and "Reflected Ltd" in page.get_data(as_text=True)
    refused = confirm(admin, waiting[0])  # its rows give the gone column a value: said, nothing written
    assert refused.status_code == 409 and [p[1] for p in problems(refused.get_data(as_text=True))] == ["scratch_code"]
    assert confirm(admin, waiting[1]).status_code == 302
    assert owner("SELECT name FROM customers WHERE name ILIKE '%scratched co' ORDER BY name") == [("Unscratched Co",)]
    assert admin.get("/customers/list/?cols=name,scratch_code").status_code == 400  # no longer a column
    refresh(other_app)  # a second later the other app server's check sees the columns changed
    item = api.get(f"/api/v1/customers/{fields['customer']}")
    assert item.status_code == 200 and "scratch_code" not in item.get_json()["result"]
    # The REST API meets the drop first: FAB's `safe` catches the error, and its 500 answer reflects and retries.
    add_field(owner, "customers", "scratch_api", "text", "text", "Scratch API", "草稿接口")
    refresh(app)
    api = app.test_client()
    assert login(api).status_code == 302
    assert "scratch_api" in api.get(f"/api/v1/customers/{fields['customer']}").get_json()["result"]
    app.extensions[EXTENSION].checked_at = time.monotonic() + 60
    owner("ALTER TABLE customers DROP COLUMN scratch_api")
    item = api.get(f"/api/v1/customers/{fields['customer']}")
    assert item.status_code == 200 and "scratch_api" not in item.get_json()["result"]
