"""Bulk actions on the CRM lists: delete, set a field, export; ticked rows or all matching rows."""
from __future__ import annotations

import json

import pytest
from flask_appbuilder.models.sqla.filters import FilterEqual

from tests.support.client import csrf_token, login
from tests.support.csv_files import as_dicts
from tests.support.users import ROLE_PASSWORD, make_role_user


def _flt(app, route: str, column: str, kind: type = FilterEqual) -> str:
    from app.lists.links import filter_index

    with app.app_context():
        return f"_flt_{filter_index(route, column, kind)}_{column}"


def _confirm(client, url: str, data: dict | None = None):
    """The confirmation page, then its POST with the count it named, as a browser would."""
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    html = page.get_data(as_text=True)
    expected = html.split('name="expected" value="', 1)[1].split('"', 1)[0]
    return client.post(url, data={"csrf_token": csrf_token(client, url), "expected": expected, **(data or {})})


@pytest.fixture
def many(sql):
    """3,000 customers: 1,200 in 'Retail', 1,800 in 'Energy'."""
    sql("INSERT INTO customers (name, industry) SELECT 'Bulk ' || g, CASE WHEN g % 5 < 2 THEN 'Retail' "
        "ELSE 'Energy' END FROM generate_series(1, 3000) g")
    return sql


def _logs(sql, action: str, table: str) -> int:
    return sql("SELECT count(*) FROM logs WHERE action = :a AND table_name = :t", a=action, t=table)[0][0]


def test_delete_all_matching_touches_exactly_the_matching_rows_one_log_each(app, admin, many):
    flt = _flt(app, "/customers", "industry")
    url = f"/customers/bulk/delete?all=1&{flt}=Retail"
    page = admin.get(url).get_data(as_text=True)
    assert "Delete 1,200 customers?" in page
    response = _confirm(admin, url)
    assert response.status_code == 302
    assert many("SELECT industry, count(*) FROM customers GROUP BY 1") == [("Energy", 1800)]
    assert _logs(many, "delete customers", "customers") == 1200  # the row trigger: one entry per row
    (admin_id,), = many("SELECT user_id FROM users WHERE username = 'admin'")
    assert many("SELECT count(*) FROM logs WHERE action = 'delete customers' AND user_id = :u", u=admin_id) \
        == [(1200,)]  # each row's entry names who did it
    entry, = many("SELECT description, user_id FROM logs WHERE action = 'bulk delete'")
    assert json.loads(entry[0])["rows"] == 1200 and entry[1] is not None


def test_all_matching_follows_the_lists_quick_search_and_filters(app, admin, many):
    """?q= narrows "all matching" exactly as it narrows the list: 'Bulk 12' words among Retail rows."""
    many("UPDATE customers SET name = name || ' Harbour' WHERE name IN ('Bulk 10', 'Bulk 11', 'Bulk 12')")
    flt = _flt(app, "/customers", "industry")
    listed = admin.get(f"/customers/list/?q=harbour&{flt}=Retail").get_data(as_text=True)
    assert "Bulk 10 Harbour" in listed and "Bulk 11 Harbour" in listed and "Bulk 12 Harbour" not in listed
    url = f"/customers/bulk/delete?all=1&q=harbour&{flt}=Retail"
    assert "Delete 2 customers?" in admin.get(url).get_data(as_text=True)
    assert _confirm(admin, url).status_code == 302
    assert many("SELECT name FROM customers WHERE name LIKE '%Harbour'") == [("Bulk 12 Harbour",)]
    assert many("SELECT count(*) FROM customers") == [(2998,)]


def test_set_field_on_all_matching_rows_validated_and_logged_per_row(app, admin, sql):
    sql("INSERT INTO customers (name) VALUES ('Owner')")
    (cid,), = sql("SELECT customer_id FROM customers")
    sql("INSERT INTO service_tickets (customer_id, subject, status, priority) SELECT :c, 'T' || g, "
        "CASE WHEN g % 2 = 0 THEN 'open' ELSE 'closed' END, 'low' FROM generate_series(1, 2000) g", c=cid)
    flt = _flt(app, "/tickets", "status")
    url = f"/tickets/bulk/set?all=1&{flt}=open&field=priority"
    assert "Set a field on 1,000" in admin.get(url).get_data(as_text=True)
    refused = _confirm(admin, url, {"field": "priority", "priority": "whenever"})
    assert refused.status_code == 400 and "help-block" in refused.get_data(as_text=True)
    assert sql("SELECT count(*) FROM service_tickets WHERE priority <> 'low'")[0][0] == 0
    response = _confirm(admin, url, {"field": "priority", "priority": "urgent"})
    assert response.status_code == 302
    assert dict(sql("SELECT status, count(*) FILTER (WHERE priority = 'urgent') FROM service_tickets GROUP BY 1")) \
        == {"open": 1000, "closed": 0}
    assert sql("SELECT min(version), max(version) FROM service_tickets WHERE priority = 'urgent'")[0] == (2, 2)
    assert _logs(sql, "update service_tickets", "service_tickets") == 1000


def test_set_a_related_row_and_a_date_on_ticked_rows(admin, sql):
    (a,), (b,) = sql("INSERT INTO customers (name) VALUES ('A'), ('B') RETURNING customer_id")
    ids = [r[0] for r in sql("INSERT INTO opportunities (customer_id, name) SELECT :a, 'O' || g "
                            "FROM generate_series(1, 5) g RETURNING opportunity_id", a=a)]
    chosen = ",".join(str(i) for i in ids[:3])
    response = _confirm(admin, f"/opportunities/bulk/set?ids={chosen}&field=customer",
                        {"field": "customer", "customer": str(b)})
    assert response.status_code == 302
    assert sql("SELECT customer_id, count(*) FROM opportunities GROUP BY 1 ORDER BY 1") == [(a, 2), (b, 3)]
    missing = _confirm(admin, f"/opportunities/bulk/set?ids={chosen}&field=customer",
                       {"field": "customer", "customer": "999999"})
    assert missing.status_code == 400 and "does not exist" in missing.get_data(as_text=True)
    response = _confirm(admin, f"/opportunities/bulk/set?ids={chosen}&field=close_date",
                        {"field": "close_date", "close_date": "2027-01-31"})
    assert response.status_code == 302
    assert sql("SELECT count(*) FROM opportunities WHERE close_date = '2027-01-31'")[0][0] == 3


def test_a_field_that_cannot_be_set_in_bulk_is_a_400(admin, sql):
    sql("INSERT INTO customers (name) VALUES ('A')")
    assert admin.get("/opportunities/bulk/set?all=1&field=value").status_code == 400
    assert admin.get("/opportunities/bulk/set?all=1&field=name").status_code == 400
    assert admin.get("/tickets/bulk/set?all=1&field=nope").status_code == 400
    assert admin.get("/tickets/bulk/set?ids=abc").status_code == 400
    assert admin.get("/customers/bulk/set?all=1&field=name").status_code == 400  # customers: only the owner


def test_a_refused_delete_leaves_everything_in_place(app, admin, many):
    (cid,), = many("SELECT customer_id FROM customers WHERE name = 'Bulk 3'")  # Energy
    many("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'Dep', 'Endant')", c=cid)
    flt = _flt(app, "/customers", "industry")
    before = many("SELECT count(*) FROM customers")[0][0]
    response = _confirm(admin, f"/customers/bulk/delete?all=1&{flt}=Energy")
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "Nothing was deleted" in text and "contacts" in text and "alert-danger" in text
    assert many("SELECT count(*) FROM customers")[0][0] == before
    assert _logs(many, "delete customers", "customers") == 0


def test_rows_changed_since_the_confirmation_are_not_touched(app, admin, many):
    flt = _flt(app, "/customers", "industry")
    url = f"/customers/bulk/delete?all=1&{flt}=Retail"
    response = admin.post(url, data={"csrf_token": csrf_token(admin, url), "expected": "5"})
    assert response.status_code == 302
    assert many("SELECT count(*) FROM customers WHERE industry = 'Retail'")[0][0] == 1200


def test_export_selected_rows_has_the_exports_columns(admin, sql):
    ids = [r[0] for r in sql("INSERT INTO customers (name, industry) SELECT 'E' || g, 'X' "
                            "FROM generate_series(1, 6) g RETURNING customer_id")]
    response = admin.get(f"/customers/bulk/export?ids={ids[1]},{ids[3]}")
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = as_dicts(response.get_data())
    assert [r["Name"] for r in rows] == ["E2", "E4"]
    full = as_dicts(admin.get("/customers/export/").get_data())
    assert list(rows[0]) == list(full[0])  # the same columns as the list's export
    assert _logs(sql, "export", "customers") == 2


def test_csrf_is_required(admin, many):
    response = admin.post("/customers/bulk/delete?all=1", data={"expected": "3000"})
    assert response.status_code == 400
    assert many("SELECT count(*) FROM customers")[0][0] == 3000


@pytest.mark.parametrize("url", ["/customers/bulk/delete?all=1", "/customers/bulk/export?all=1"])
def test_a_role_without_the_permission_gets_403_and_nothing_changes(app, client, many, url):
    login(client, make_role_user(app, "Sales Rep"), ROLE_PASSWORD)  # read, create, edit: no delete, no export
    assert client.get(url).status_code == 403
    if "delete" in url:
        assert client.post(url, data={"csrf_token": csrf_token(client, "/"), "expected": "3000"}).status_code == 403
    assert many("SELECT count(*) FROM customers")[0][0] == 3000
    page = client.get("/contacts/list/").get_data(as_text=True)
    assert "bulk_set_menu_item" in page and "bulk_delete_menu_item" not in page
    assert "bulk_export_menu_item" not in page


def test_edit_permission_is_needed_to_set(app, client, sql):
    sql("INSERT INTO customers (name) VALUES ('A')")
    login(client, make_role_user(app, "Auditor"), ROLE_PASSWORD)  # read and export only
    assert client.get("/customers/bulk/set?all=1").status_code == 403
    assert client.get("/customers/bulk/export?all=1").status_code == 200


def test_every_crm_list_offers_the_bulk_actions(admin, sql):
    for route in ("/customers", "/contacts", "/leads", "/opportunities", "/activities", "/tickets"):
        page = admin.get(f"{route}/list/").get_data(as_text=True)
        assert "crm-bulk-bar" in page, route
        for name in ("bulk_delete", "bulk_set", "bulk_export"):
            # customers: the owner is set in bulk (text and amounts are edited one by one)
            assert f"{name}_menu_item" in page, (route, name)



def test_setting_a_customer_or_contact_keeps_each_activitys_contact_its_customers(admin, sql):
    """As the edit form: an activity's contact belongs to its customer; a conflict is refused, row named."""
    (a,), (b,) = sql("INSERT INTO customers (name) VALUES ('Acme'), ('Bolt') RETURNING customer_id")
    (ann,), (bob,) = sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:a, 'Ann', 'Lee'), "
                         "(:b, 'Bob', 'Ng') RETURNING contact_id", a=a, b=b)
    ids = [r[0] for r in sql("INSERT INTO activities (customer_id, contact_id, type, subject) VALUES "
                             "(:a, :ann, 'call', 'Call Ann'), (:a, NULL, 'call', 'No contact'), "
                             "(NULL, :bob, 'call', 'Bob only') RETURNING activity_id", a=a, ann=ann, bob=bob)]
    before = sql("SELECT activity_id, customer_id, contact_id, version FROM activities ORDER BY 1")
    chosen = ",".join(map(str, ids))
    refused = _confirm(admin, f"/activities/bulk/set?ids={chosen}&field=customer",
                       {"field": "customer", "customer": str(b)})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "Nothing was changed" in body
    assert f"#{ids[0]} Call Ann" in body and "Bob only" not in body and "No contact" not in body
    contact_refused = _confirm(admin, f"/activities/bulk/set?ids={chosen}&field=contact",
                               {"field": "contact", "contact": str(bob)})
    assert contact_refused.status_code == 409 and f"#{ids[0]} Call Ann" in contact_refused.get_data(as_text=True)
    assert sql("SELECT activity_id, customer_id, contact_id, version FROM activities ORDER BY 1") == before
    # the rows whose contact agrees (or that have none) take the new customer
    agreeing = ",".join(map(str, ids[1:]))
    assert _confirm(admin, f"/activities/bulk/set?ids={agreeing}&field=customer",
                    {"field": "customer", "customer": str(b)}).status_code == 302
    assert sql("SELECT customer_id FROM activities ORDER BY 1") == [(a,), (b,), (b,)]
