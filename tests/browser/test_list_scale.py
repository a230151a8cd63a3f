"""The list pager and the AJAX filter on a related column, in headless Chromium."""
from __future__ import annotations

import re

import pytest

from tests.support.apps import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def test_filter_activities_by_customer_with_the_ajax_select_then_page(browser_page, sql):
    page = browser_page
    for i in range(40):
        sql("INSERT INTO customers (name) VALUES (:n)", n=f"Filler {i}")
    (target,), = sql("INSERT INTO customers (name) VALUES ('深圳腾达电子') RETURNING customer_id")
    for i in range(30):
        sql("INSERT INTO activities (customer_id, type, subject) VALUES (:c, 'call', :s)", c=target, s=f"腾达 call {i}")
    sql("INSERT INTO activities (customer_id, type, subject) "
        "SELECT customer_id, 'email', 'other ' || customer_id FROM customers WHERE name LIKE 'Filler %'")
    page.login("admin", ADMIN_PASSWORD)

    page.goto("/activities/list/")
    page.page.click("a.accordion-toggle")  # open the Search panel
    page.page.click("text=Add Filter")
    page.page.click("a.filter[name=customer]")
    page.page.click("#filter_form .select2-container >> nth=-1")  # the value box of the new filter
    page.page.fill(".select2-container--open .select2-search__field", "腾达")
    option = page.page.locator(".select2-results__option", has_text="深圳腾达电子")
    option.first.wait_for()
    option.first.click()
    page.page.click("#filter_form button[type=submit]")
    page.page.wait_for_load_state("networkidle")
    assert f"_flt_0_customer={target}" in page.page.url
    content = page.page.content()
    assert "腾达 call" in content and "other " not in content
    assert "深圳腾达电子" in page.page.locator("#filter_form").inner_html()  # the active filter names the row
    page.screenshot("activities-filtered-by-customer")

    page.page.click("a[rel=next]")
    page.page.wait_for_load_state("networkidle")
    assert "after_ActivityView=" in page.page.url and f"_flt_0_customer={target}" in page.page.url
    second = re.findall(r"腾达 call \d+", page.page.content())
    assert len(set(second)) == 5
    page.assert_clean()
