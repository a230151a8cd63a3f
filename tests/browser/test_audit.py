"""The audit screens in headless Chromium: a record's History panel, the /logs/ list and its pager."""
from __future__ import annotations

import pytest

from tests.support.apps import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def test_history_panel_and_logs_pager(browser_page, sql, owner_sql):
    page = browser_page
    (cid,), = sql("INSERT INTO customers (name, industry) VALUES ('审计客户 Audit Co', 'Retail') RETURNING customer_id")
    # an operator in psql as the owner role, without an application user: "the system"
    owner_sql("UPDATE customers SET industry = 'Banking', location = '深圳' WHERE customer_id = :c", c=cid)
    sql("INSERT INTO logs (action, description) SELECT 'pager probe', 'probe ' || g FROM generate_series(1, 40) g")
    page.login("admin", ADMIN_PASSWORD)

    page.goto(f"/customers/show/{cid}")
    history = page.page.locator(".crm-history")
    assert "The system changed Industry from Retail to Banking" in history.inner_text()  # a sentence per change
    assert "深圳" in history.inner_text()
    page.screenshot("customer-history")

    page.goto("/logs/list/?_flt_0_action=pager+probe")
    assert "probe 40" in page.page.content() and "probe 15" not in page.page.content()
    page.page.click("a[rel=next]")
    page.page.wait_for_load_state("networkidle")
    assert "probe 15" in page.page.content() and "probe 40" not in page.page.content()
    page.screenshot("logs-list")
    page.assert_clean()
