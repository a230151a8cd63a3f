"""The Content-Security-Policy in headless Chromium: the widgets still work, injected script does not.

The other browser tests fail on any CSP violation too (tests/support/browser.py's assert_clean):
search, AJAX selects and list filters, customer 360, pipeline board drag, dashboard
charts, permission matrix, CSV import/export, record history. This one covers the
date pickers of the edit forms, the list's delete confirmation (an inline script with
the nonce) and the policy's point: a script injected into the page does not run.
"""
from __future__ import annotations

import pytest

from tests.support.apps import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def test_forms_pickers_and_delete_confirmation_run_under_the_csp(browser_page, sql):
    page = browser_page
    (customer,), = sql("INSERT INTO customers (name) VALUES ('CSP 客户') RETURNING customer_id")
    sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
        "VALUES (:c, 'call', 'CSP call', '2026-11-20 10:00')", c=customer)
    page.login("admin", ADMIN_PASSWORD)

    page.goto("/opportunities/add")
    page.page.click("input[name=close_date]")
    page.page.locator(".datepicker").first.wait_for(state="visible")  # bootstrap-datepicker opened
    page.page.keyboard.press("Escape")

    page.goto("/activities/list/")
    (activity,), = sql("SELECT activity_id FROM activities WHERE subject = 'CSP call'")
    page.goto(f"/activities/edit/{activity}")
    page.page.click("input[name=activity_date]")
    page.page.locator(".datepicker").first.wait_for(state="visible")
    page.page.keyboard.press("Escape")

    page.goto("/customers/list/")
    page.page.click(".crm-row-delete")  # the nonce'd inline script asks first
    page.page.locator("#modal-confirm").wait_for(state="visible")
    page.page.click("#modal-confirm button[data-dismiss=modal]")
    assert sql("SELECT count(*) FROM customers WHERE customer_id = :c", c=customer) == [(1,)]
    page.assert_clean()


def test_a_script_injected_into_a_page_is_blocked_and_reported(browser_page):
    page = browser_page
    page.login("admin", ADMIN_PASSWORD)
    page.goto("/customers/list/")
    ran = page.page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.crmInjected = true;";
        document.body.appendChild(script);
        return window.crmInjected === true;
    }""")
    page.page.wait_for_timeout(200)  # the violation event is dispatched asynchronously
    assert ran is False
    assert any(v.startswith("script-src") for v in page.csp_violations), page.csp_violations
