"""CSV export of every list: the filtered list's rows in its order, streamed, permission-checked, audited."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterGreater

from app.search.filters import FilterContains
from tests.support.client import login
from tests.support.csv_files import BOM, as_dicts, parse
from tests.support.users import USER_PASSWORD, make_user

LISTS = ["/customers", "/contacts", "/leads", "/opportunities", "/activities", "/tickets", "/reports", "/logs"]


def _flt(app, route: str, column: str, kind: type) -> str:
    from app.lists.links import filter_index

    with app.app_context():
        return f"_flt_{filter_index(route, column, kind)}_{column}"


@pytest.fixture
def customers(add_rows):
    from app.models import Customer

    rows = [dict(name=f"客户 {i:02d}", industry="Retail" if i % 3 else "Energy", location="深圳",
                 revenue=Decimal(f"{i * 1000}.50")) for i in range(1, 31)]
    rows += [dict(name="=HYPERLINK(\"http://evil\")", industry="Retail", location="+1 cmd", revenue=None),
             dict(name='Quote "and", comma\nnewline', industry="Retail", location="@sum", revenue=Decimal(7))]
    return add_rows(Customer, *rows)


def test_filtered_export_is_the_filtered_list_in_its_order(app, admin, customers, sql):
    flt = _flt(app, "/customers", "industry", FilterEqual)
    args = f"{flt}=Retail&_oc_CustomerView=name&_od_CustomerView=desc"
    page = admin.get(f"/customers/list/?{args}").get_data(as_text=True)
    assert f'href="/customers/export/?{args.replace("&", "&amp;")}"' in page  # the button carries the list's arguments

    response = admin.get(f"/customers/export/?{args}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="customers-')
    body = response.get_data()
    assert body.startswith(BOM) and b"\r\n" in body
    rows = as_dicts(body)
    expected = sql("SELECT customer_id, name, industry FROM customers WHERE industry = 'Retail' "
                   "ORDER BY name DESC, customer_id DESC")
    assert [(int(r["Customer id"]), r["Name"].lstrip("'") if r["Name"].startswith("'=") else r["Name"],
             r["Industry"]) for r in rows] == [tuple(e) for e in expected]
    header = parse(body)[0]
    # the owner by id and by name (ownership, migration 0026)
    assert header == ["Customer id", "Name", "Industry", "Location", "Revenue", "Owner id", "Owner", "Created at",
                      "Updated at"]
    # amounts decrypted as plain numbers (no grouping), empty when there is none
    by_name = {r["Name"]: r for r in rows}
    assert by_name["客户 02"]["Revenue"] == "2000.50" and by_name["客户 02"]["Industry"] == "Retail"
    assert by_name["'=HYPERLINK(\"http://evil\")"]["Revenue"] == ""


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_quoted(admin, customers):
    rows = as_dicts(admin.get("/customers/export/").get_data())
    names = {r["Name"] for r in rows}
    assert "'=HYPERLINK(\"http://evil\")" in names and "=HYPERLINK(\"http://evil\")" not in names
    locations = {r["Location"] for r in rows}
    assert {"'+1 cmd", "'@sum", "深圳"} <= locations
    assert 'Quote "and", comma\nnewline' in names  # CSV quoting keeps quotes, commas and newlines in one cell


def test_related_rows_by_name_and_unfiltered_order_is_the_screens(admin, sql):
    (cid,), = sql("INSERT INTO customers (name) VALUES ('父公司 Parent') RETURNING customer_id")
    for first in ("伟", "Ada", "Bob"):
        sql("INSERT INTO contacts (customer_id, first_name, last_name, email) VALUES (:c, :f, 'X', :e)",
            c=cid, f=first, e=f"{first.encode().hex()}@example.com")
    rows = as_dicts(admin.get("/contacts/export/").get_data())
    assert [r["First name"] for r in rows] == ["Bob", "Ada", "伟"]  # base order: newest id first
    assert {(r["Customer id"], r["Customer"]) for r in rows} == {(str(cid), "父公司 Parent")}


def test_contains_filter_and_number_filter(app, admin, customers, sql):
    flt = _flt(app, "/customers", "name", FilterContains)
    rows = as_dicts(admin.get(f"/customers/export/?{flt}=客户 1").get_data())
    assert sorted(r["Name"] for r in rows) == [f"客户 {i}" for i in range(10, 20)]
    band = _flt(app, "/customers", "revenue_band", FilterGreater)
    rows = as_dicts(admin.get(f"/customers/export/?{band}=0").get_data())
    assert len(rows) == sql("SELECT count(*) FROM customers WHERE revenue_band > 0")[0][0] == 30


@pytest.mark.parametrize("route", LISTS)
def test_every_list_has_an_export_button_and_exports(admin, sql, route):
    sql("INSERT INTO customers (name) VALUES ('Any 任意')")
    page = admin.get(f"{route}/list/").get_data(as_text=True)
    assert f'href="{route}/export/"' in page and "Export CSV" in page
    response = admin.get(f"{route}/export/")
    assert response.status_code == 200
    assert response.get_data().startswith(BOM)


def test_the_response_is_streamed_not_built(admin, sql):
    """The body comes in batches of 1,000 rows as the cursor reads them, not as one pre-built body."""
    sql("INSERT INTO customers (name) SELECT '客户' || g FROM generate_series(1, 2500) g")
    response = admin.get("/customers/export/", buffered=False)
    chunks = iter(response.response)
    first = next(chunks)
    assert first.startswith(BOM) and first.count(b"\r\n") == 1 + 1000  # the header and one batch
    rest = b"".join(chunks)
    response.close()
    assert len(parse(first + rest)) == 2501


def test_export_is_audited_with_who_what_filter_and_rows(app, admin, customers, sql):
    flt = _flt(app, "/customers", "industry", FilterEqual)
    admin.get(f"/customers/export/?{flt}=Energy").get_data()
    (user_id, table, description), = sql("SELECT user_id, table_name, description FROM logs WHERE action = 'export'")
    detail = json.loads(description)
    assert user_id == sql("SELECT user_id FROM users WHERE username = 'admin'")[0][0]
    assert table == "customers" and detail["rows"] == 10 and detail["complete"] is True
    assert detail["filters"] == [["industry", "Equal to", ["Energy"]]]


def test_a_role_without_export_is_refused(app, client, customers, sql):
    make_user(app, "rep", "Sales Rep")
    login(client, "rep", USER_PASSWORD)
    page = client.get("/customers/list/").get_data(as_text=True)
    assert "Export CSV" not in page and "/customers/export/" not in page
    response = client.get("/customers/export/")
    assert response.status_code in (302, 403) and not response.get_data().startswith(BOM)
    assert sql("SELECT count(*) FROM logs WHERE action = 'export'")[0][0] == 0


def test_export_is_a_permission_in_plain_words(app, client, customers):
    """Sales Manager and Auditor export; the matrix calls can_export "export"."""
    for name, role in (("mgr", "Sales Manager"), ("aud", "Auditor")):
        make_user(app, name, role)
        user = app.test_client()
        login(user, name, USER_PASSWORD)
        assert user.get("/customers/export/").get_data().startswith(BOM), role
    make_user(app, "agent", "Support Agent")
    agent = app.test_client()
    login(agent, "agent", USER_PASSWORD)
    assert not agent.get("/customers/export/").get_data().startswith(BOM)
    with app.app_context():
        from app.security.access import catalog

        cat = catalog(app.appbuilder)
        assert {(e.resource, e.readable) for e in cat.entries if e.action == "can_export"} >= {
            ("CustomerView", "export"), ("LogView", "export")}


def test_the_export_gives_its_database_connection_back(app, admin, customers):
    """The body is sent after the view returned; its connection must not wait for the garbage collector."""
    from app.extensions import db

    assert admin.get("/customers/export/").get_data().startswith(BOM)
    with app.app_context():
        assert db.engine.pool.checkedout() == 0
