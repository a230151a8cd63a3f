"""Issue #19 points 6-9 in Chromium: History in words, narrowed selects, grouped amounts, names, clean lists, minutes."""
from __future__ import annotations

import re

import pytest

from tests.support.apps import ADMIN_PASSWORD
from tests.support.browser import Page

pytestmark = pytest.mark.browser

LISTS = ["/customers", "/contacts", "/leads", "/opportunities", "/activities", "/tickets", "/reports",
         "/logs", "/users", "/roles", "/permissions"]


def signed_in(page: Page, lang: str) -> None:
    page.sign_in("admin", ADMIN_PASSWORD, lang)


def submit(page: Page) -> None:
    page.page.click("button[type=submit]")
    page.page.wait_for_load_state("networkidle")


def choose(page: Page, field: str, typed: str, option: str) -> None:
    """Pick a row in an AJAX select (select2): open, type, click the option."""
    page.page.click(f"select#{field} + .select2-container .select2-selection")
    page.page.fill(".select2-container--open .select2-search__field", typed)
    page.page.click(f".select2-container--open .select2-results__option:text-is('{option}')")


def offered(page: Page, field: str) -> list[str]:
    page.page.click(f"select#{field} + .select2-container .select2-selection")
    page.page.wait_for_selector(".select2-container--open .select2-results__option:not(.loading-results)")
    page.page.wait_for_timeout(600)  # select2's delay before it asks the server
    texts = page.page.locator(".select2-container--open .select2-results__option").all_inner_texts()
    page.page.keyboard.press("Escape")
    return texts


@pytest.mark.parametrize("lang, texts", [
    ("en", ["王丽 created this opportunity", "王丽 changed Stage from Proposal to Won",
            "王丽 changed Value from 12,500,000.00 to 13,000,000.50"]),
    ("zh", ["王丽创建了此销售机会", "王丽将阶段从“提案”改为“赢单”", "王丽将预估价值从“12,500,000.00”改为“13,000,000.50”"]),
])
def test_history_speaks_in_sentences_and_amounts_are_typed_grouped(browser_page, sql, lang, texts):
    page = browser_page
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Acme 顶峰') RETURNING customer_id")
    sql("UPDATE users SET first_name = '丽', last_name = '王' WHERE username = 'admin'")
    signed_in(page, lang)
    page.goto(f"/opportunities/add?customer={cid}")
    page.page.fill("input[name=name]", "Big deal")
    page.page.fill("input[name=value]", "12,500,000")
    page.page.select_option("select#stage", "proposal")
    submit(page)
    (oid, ), = sql("SELECT opportunity_id FROM opportunities WHERE name = 'Big deal'")
    page.goto(f"/opportunities/edit/{oid}")
    assert page.page.input_value("input[name=value]") == "12,500,000.00"
    page.page.fill("input[name=value]", "13,000,000.50")
    page.page.select_option("select#stage", "won")
    submit(page)
    page.goto(f"/opportunities/show/{oid}")
    history = " ".join(page.page.inner_text("#history").split())
    for text in texts:
        assert text in history, history
    for internal in ("via", "db_role", "value_band", "insert ", "update ", "\\x"):
        assert internal not in history, internal
    page.goto(f"/opportunities/edit/{oid}")
    assert page.page.input_value("input[name=value]") == "13,000,000.50"
    page.goto(f"/opportunities/edit/{oid}")
    page.page.fill("input[name=value]", "12,50,0")
    submit(page)
    assert page.page.locator(".has-error, .help-block, .alert-danger").count() > 0
    assert page.page.input_value("input[name=value]") == "12,50,0"
    page.assert_clean()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_contact_select_offers_the_chosen_customers_contacts(browser_page, sql, lang):
    page = browser_page
    ids = {}
    for name in ("Acme", "Globex"):
        (ids[name],), = sql("INSERT INTO customers (name, location) VALUES (:n, 'Shanghai') RETURNING customer_id",
                            n=name)
    for customer, first, last in (("Acme", "John", "Brown"), ("Globex", "John", "Brown"), ("Acme", "晓明", "王")):
        sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, :f, :l)",
            c=ids[customer], f=first, l=last)
    john = "John Brown" if lang == "en" else "Brown John"
    signed_in(page, lang)
    page.goto("/activities/add")
    choose(page, "customer", "Glob", "Globex – Shanghai")
    assert offered(page, "contact") == [f"{john} – Globex"]
    choose(page, "customer", "Acme", "Acme – Shanghai")
    assert sorted(offered(page, "contact")) == sorted([f"{john} – Acme", "王晓明 – Acme"])
    choose(page, "contact", "王晓明", "王晓明 – Acme")
    choose(page, "customer", "Glob", "Globex – Shanghai")  # another customer: the contact is cleared
    assert page.page.eval_on_selector("select#contact", "s => s.value") == ""
    page.assert_clean()


@pytest.mark.parametrize("lang, wang, brown, yes", [("en", "王晓明", "John Brown", "Yes"),
                                                     ("zh", "王晓明", "Brown John", "是")])
def test_every_list_has_names_in_order_and_no_none_true_false_or_seconds(browser_page, sql, lang, wang, brown, yes):
    page = browser_page
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Names Co') RETURNING customer_id")
    for first, last in (("晓明", "王"), ("John", "Brown")):
        (contact,), = sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, :f, :l) "
                          "RETURNING contact_id", c=cid, f=first, l=last)
        sql("INSERT INTO activities (customer_id, contact_id, type, subject) VALUES (:c, :p, 'call', 'Call')",
            c=cid, p=contact)
        sql("INSERT INTO leads (contact_id) VALUES (:p)", p=contact)
    sql("INSERT INTO opportunities (customer_id, name) VALUES (:c, 'No value')", c=cid)
    sql("INSERT INTO service_tickets (customer_id, subject) VALUES (:c, 'Ticket')", c=cid)
    sql("INSERT INTO reports (report_type, data) VALUES ('sales_summary', '{}')")
    signed_in(page, lang)
    for url in LISTS:
        page.goto(f"{url}/list/")
        cells = [c.strip() for c in page.page.locator("table td").all_inner_texts()]
        assert cells, url
        assert not {"None", "True", "False"} & set(cells), url
        assert not [c for c in cells if re.search(r"\d{2}:\d{2}:\d{2}", c)], url
    page.goto("/activities/list/")
    cells = page.page.locator("table td").all_inner_texts()
    assert wang in cells and brown in cells
    page.goto("/leads/list/")
    assert wang in page.page.locator("table td").all_inner_texts()
    page.goto("/users/list/")
    assert yes in [c.strip() for c in page.page.locator("table td").all_inner_texts()]
    page.assert_clean()


def test_times_are_to_the_minute_in_the_browsers_time_zone(browser_page, sql):
    sql("UPDATE users SET last_login = '2026-11-29 23:05:09.123456' WHERE username = 'admin'")
    browser = browser_page.page.context.browser
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US",
                                  timezone_id="Asia/Shanghai")
    try:
        page = Page(context.new_page(), browser_page.base_url)
        page.login("admin", ADMIN_PASSWORD)  # the first page sets the time zone's cookie
        sql("UPDATE users SET last_login = '2026-11-29 23:05:09.123456' WHERE username = 'admin'")
        page.goto("/users/list/")
        cells = page.page.locator("table td").all_inner_texts()
        assert "Nov 30, 2026, 07:05" in cells, cells
        page.assert_clean()
    finally:
        context.close()
