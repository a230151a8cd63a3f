"""Browser smoke test in headless Debian Chromium: log in, list customers, add records."""
from __future__ import annotations

import pytest

from tests.support.apps import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def test_login_list_and_add_customer_then_contact_via_ajax_select(browser_page, sql, app):
    page = browser_page
    sql("INSERT INTO customers (name, industry) VALUES ('深圳腾达电子', 'Manufacturing')")
    page.login("admin", ADMIN_PASSWORD)

    page.goto("/customers/list/")
    assert "深圳腾达电子" in page.page.content()
    page.screenshot("customers-list")

    page.goto("/customers/add")
    page.page.fill("input[name=name]", "Browser Test 浏览器测试")
    page.page.select_option("select[name=industry]", "Retail", force=True)  # a documented value
    page.page.fill("input[name=revenue]", "1234.50")
    page.page.click("button[type=submit]")
    page.page.wait_for_load_state("networkidle")
    assert "Added Row" in page.page.content()
    assert sql("SELECT industry, pg_typeof(revenue)::text FROM customers WHERE name = 'Browser Test 浏览器测试'") == \
        [("Retail", "bytea")]  # revenue is stored encrypted, and reads back as the number typed
    from tests.support.users import as_admin

    with as_admin(app):  # row-level security: the admin's records
        from decimal import Decimal

        from sqlalchemy import select

        from app.extensions import db
        from app.models import Customer

        assert db.session.scalar(select(Customer.revenue_band).where(Customer.name == "Browser Test 浏览器测试")) == 1
        assert db.session.scalars(select(Customer).where(Customer.name == "Browser Test 浏览器测试")).one().revenue == \
            Decimal("1234.50")

    page.goto("/contacts/add")
    page.page.click("#s2id_customer, .select2-container")  # open the AJAX select
    page.page.keyboard.type("腾达")
    option = page.page.locator(".select2-results__option", has_text="深圳腾达电子")
    option.first.wait_for()
    option.first.click()
    page.page.fill("input[name=first_name]", "伟")
    page.page.fill("input[name=last_name]", "王")
    page.page.fill("input[name=email]", "wang.wei@example.cn")
    page.screenshot("contact-add")
    page.page.click("button[type=submit]")
    page.page.wait_for_load_state("networkidle")
    assert sql("SELECT c.name FROM contacts JOIN customers c USING (customer_id) "
               "WHERE email = 'wang.wei@example.cn'") == [("深圳腾达电子",)]
    page.assert_clean()


def test_customer_show_page_with_related_lists(browser_page, sql, add_rows):
    page = browser_page
    (cid,), = sql("INSERT INTO customers (name, industry, location) VALUES ('华为技术', '互联网', '深圳') "
                  "RETURNING customer_id")
    sql("INSERT INTO contacts (customer_id, first_name, last_name, email) VALUES (:c, '伟', '王', 'w@example.cn')", c=cid)
    from app.models import Opportunity

    add_rows(Opportunity, {"customer_id": cid, "name": "年度采购", "stage": "proposal", "value": 250000})
    page.login("admin", ADMIN_PASSWORD)
    page.goto(f"/customers/show/{cid}")
    content = page.page.content()
    assert "华为技术" in content and "年度采购" in content and "w@example.cn" in content
    page.screenshot("customer-show")
    page.assert_clean()


def test_top_bar_search_finds_highlights_and_opens_a_customer(browser_page, sql):
    page = browser_page
    (cid,), = sql("INSERT INTO customers (name, location) VALUES ('华为技术有限公司', '深圳') RETURNING customer_id")
    sql("INSERT INTO customers (name) VALUES ('Acme Corporation')")
    page.login("admin", ADMIN_PASSWORD)
    page.goto("/customers/list/")
    page.page.fill("#crm-topbar-search input[name=q]", "华为")
    page.page.keyboard.press("Enter")
    page.page.wait_for_load_state("networkidle")
    assert "/search/?q=" in page.page.url
    group = page.page.locator('[data-entity="customers"]')
    assert group.locator("mark", has_text="华为").count() == 1
    assert "Acme" not in group.inner_text()
    page.screenshot("search-results")
    group.locator("a", has_text="华为技术有限公司").click()
    page.page.wait_for_load_state("networkidle")
    assert page.page.url.endswith(f"/customers/show/{cid}")
    page.assert_clean()
