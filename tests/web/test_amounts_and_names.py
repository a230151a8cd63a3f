"""Issue #19 points 8 and 9: amounts typed as shown; names, Yes/No, empty cells and minutes on every list."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.support.client import post_form, switch_language
from tests.support.htmlforms import form_fields

LISTS = ["/customers", "/contacts", "/leads", "/opportunities", "/activities", "/tickets", "/reports",
         "/logs", "/users", "/roles", "/permissions"]


def revenue_of(app, customer_id: int) -> Decimal | None:
    from app.extensions import db
    from app.models import Customer
    from tests.support.users import as_admin

    with as_admin(app):  # the admin sees every record (row-level security)
        value = db.session.get(Customer, customer_id).revenue
        db.session.remove()
        return value


def field_value(html: str, name: str) -> str:
    return form_fields(html)[name]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("typed, stored, shown", [
    ("12,500,000", Decimal("12500000.00"), "12,500,000.00"),
    ("12,500,000.50", Decimal("12500000.50"), "12,500,000.50"),
    ("12500000", Decimal("12500000.00"), "12,500,000.00"),
])
def test_an_amount_is_typed_as_the_app_shows_it_and_shown_grouped(app, admin, sql, lang, typed, stored, shown):
    switch_language(admin, lang)
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Amount Co') RETURNING customer_id")
    fields = form_fields(admin.get(f"/customers/edit/{cid}").get_data(as_text=True))
    fields["revenue"] = typed
    assert post_form(admin, f"/customers/edit/{cid}", fields).status_code == 302
    assert revenue_of(app, cid) == stored
    assert field_value(admin.get(f"/customers/edit/{cid}").get_data(as_text=True), "revenue") == shown
    assert shown in admin.get(f"/customers/show/{cid}").get_data(as_text=True)


@pytest.mark.parametrize("lang, message", [("en", "Enter an amount such as 12,500,000"), ("zh", "请输入金额")])
@pytest.mark.parametrize("typed", ["12,50,000", "abc", "1e5", "12.500.000", "NaN", "1,234.567"])
def test_garbage_in_an_amount_is_a_form_error_and_nothing_is_saved(app, admin, sql, lang, message, typed):
    switch_language(admin, lang)
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Garbage Co') RETURNING customer_id")
    fields = form_fields(admin.get(f"/customers/edit/{cid}").get_data(as_text=True))
    fields["revenue"] = typed
    response = post_form(admin, f"/customers/edit/{cid}", fields)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page or "decimal places" in page or "小数" in page
    assert revenue_of(app, cid) is None


def test_an_opportunity_value_is_added_grouped(app, admin, sql):
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Deal Co') RETURNING customer_id")
    assert post_form(admin, "/opportunities/add", {"customer": str(cid), "name": "Grouped", "stage": "initial",
                                                   "value": "7,150,063"}).status_code == 302
    (oid,), = sql("SELECT opportunity_id FROM opportunities WHERE name = 'Grouped'")
    assert field_value(admin.get(f"/opportunities/edit/{oid}").get_data(as_text=True), "value") == "7,150,063.00"


@pytest.fixture
def named(sql) -> dict[str, int]:
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Names Co') RETURNING customer_id")
    ids = {"customer": cid}
    for key, first, last in (("wang", "晓明", "王"), ("brown", "John", "Brown")):
        (ids[key],), = sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, :f, :l) "
                           "RETURNING contact_id", c=cid, f=first, l=last)
        sql("INSERT INTO activities (customer_id, contact_id, type, subject) VALUES (:c, :p, 'call', :s)",
            c=cid, p=ids[key], s=f"Call {key}")
    return ids


@pytest.mark.parametrize("lang, wang, brown", [("en", "王晓明", "John Brown"), ("zh", "王晓明", "Brown John")])
def test_names_in_the_languages_order_on_lists_pages_and_selects(admin, named, lang, wang, brown):
    switch_language(admin, lang)
    listing = admin.get("/activities/list/").get_data(as_text=True)
    cells = re.findall(r"<td[^>]*>(?:<a [^>]*>)?([^<]*)", listing)  # a cell's text, linked or not
    assert wang in cells and brown in cells and "晓明 王" not in listing
    (activity,) = re.findall(r"/activities/show/(\d+)", listing)[:1]
    assert wang in admin.get(f"/activities/show/{activity}").get_data(as_text=True) or brown in admin.get(
        f"/activities/show/{activity}").get_data(as_text=True)
    texts = [r["text"] for r in admin.get(f"/contacts/lookup/?customer={named['customer']}").get_json()["results"]]
    assert sorted(texts) == sorted([f"{wang} – Names Co", f"{brown} – Names Co"])
    found = admin.get("/search/?q=晓明").get_data(as_text=True)
    assert wang in found or "王" in found


@pytest.mark.parametrize("lang, yes", [("en", "Yes"), ("zh", "是")])
def test_no_none_true_false_or_seconds_on_any_list(admin, named, sql, lang, yes):
    sql("UPDATE users SET last_login = '2026-11-29 14:05:09.123456' WHERE username = 'admin'")
    sql("INSERT INTO leads (source) VALUES (NULL), ('Fair')")
    sql("INSERT INTO service_tickets (customer_id, subject) VALUES (:c, 'No description')", c=named["customer"])
    sql("INSERT INTO opportunities (customer_id, name) VALUES (:c, 'No value')", c=named["customer"])
    sql("INSERT INTO reports (report_type, data) VALUES ('sales_summary', '{}')")
    switch_language(admin, lang)
    for url in LISTS:
        response = admin.get(f"{url}/list/")
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", page, re.S)
        assert cells, url
        for cell in cells:
            text = re.sub(r"<[^>]+>", "", cell).strip()
            assert text not in ("None", "True", "False"), (url, text)
            assert not re.search(r"\d{2}:\d{2}:\d{2}", text), (url, text)
    users = admin.get("/users/list/").get_data(as_text=True)
    assert f"<td>{yes}</td>" in users and re.search(r"14:05</td>", users)


def test_times_show_in_the_browsers_time_zone(admin, sql):
    sql("UPDATE users SET last_login = '2026-11-29 23:05:09' WHERE username = 'admin'")
    assert "Nov 29, 2026, 23:05" in admin.get("/users/list/").get_data(as_text=True)
    admin.set_cookie("crm_tz", "Asia/Shanghai")
    assert "Nov 30, 2026, 07:05" in admin.get("/users/list/").get_data(as_text=True)
    admin.set_cookie("crm_tz", "Not/AZone")  # unknown: the default, UTC
    assert "Nov 29, 2026, 23:05" in admin.get("/users/list/").get_data(as_text=True)
