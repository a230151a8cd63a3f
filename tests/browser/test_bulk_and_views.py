"""Bulk actions, "select all matching", the column chooser and saved views, in Chromium, in both languages."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask_appbuilder.models.sqla.filters import FilterEqual

from app.lists.links import filter_index
from tests.support.apps import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

TEXTS = {
    "en": {"set_done": "set on 2 service tickets", "delete_title": "Delete 28 service tickets?",
           "all_view": "All", "saved": "View Open tickets saved."},
    "zh": {"set_done": "已为 2", "delete_title": "删除 28", "all_view": "全部", "saved": "视图 Open tickets 已保存。"},
}


def _tickets(sql, n: int = 30) -> None:
    sql("INSERT INTO customers (name) VALUES ('Ticket owner')")
    sql("INSERT INTO service_tickets (customer_id, subject, status, priority) "
        "SELECT (SELECT min(customer_id) FROM customers), 'Ticket ' || g, 'open', 'low' "
        "FROM generate_series(1, :n) g", n=n)


def _action(page, name: str) -> None:
    """Open FAB's Actions menu and choose one of the bulk actions."""
    page.page.click(f"xpath=//a[contains(@class,'{name}_menu_item')]/ancestor::div[contains(@class,'btn-group')][1]"
                    "/button")
    page.page.click(f"a.{name}_menu_item")
    page.page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_tick_rows_set_a_field_export_and_delete_all_matching(browser_page, app, sql, lang):
    page, text = browser_page, TEXTS[lang]
    _tickets(sql)
    page.sign_in("admin", ADMIN_PASSWORD, lang)
    page.goto("/tickets/list/")
    boxes = page.page.locator("input.action_check")
    boxes.nth(0).check()
    boxes.nth(1).check()
    _action(page, "bulk_set")
    page.page.select_option("#crm-bulk-field", "priority")
    page.page.click(".crm-bulk-field button[type=submit]")
    page.page.wait_for_load_state("networkidle")
    page.page.select_option("select[name=priority]", "urgent", force=True)  # behind select2
    page.page.click(".crm-bulk-submit")
    page.page.wait_for_load_state("networkidle")
    assert text["set_done"] in page.page.inner_text("body")
    assert sql("SELECT count(*) FROM service_tickets WHERE priority = 'urgent'") == [(2,)]

    page.page.locator("input.action_check").nth(2).check()
    with page.page.expect_download() as download:
        _action(page, "bulk_export")
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert len(content.strip().splitlines()) == 2 and ",Ticket 28," in content  # the header and the ticked row

    # select all matching (a filtered list: the two urgent tickets stay)
    with app.app_context():
        index = filter_index("/tickets", "priority", FilterEqual)
    page.goto(f"/tickets/list/?_flt_{index}_priority=low&psize_TicketView=10")
    page.page.check("input.action_check_all")
    page.page.wait_for_selector("#crm-bulk-bar", state="visible")
    page.page.click(".crm-bulk-all")
    page.page.wait_for_selector(".crm-bulk-all-on", state="visible")
    _action(page, "bulk_delete")
    assert text["delete_title"] in page.page.inner_text(".crm-bulk-title")
    page.page.click(".crm-bulk-submit")
    page.page.wait_for_load_state("networkidle")
    assert sql("SELECT priority, count(*) FROM service_tickets GROUP BY 1") == [("urgent", 2)]
    assert sql("SELECT count(*) FROM logs WHERE action = 'delete service_tickets'") == [(28,)]
    page.assert_clean()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_choose_columns_save_a_default_view_and_escape_it(browser_page, sql, lang):
    page, text = browser_page, TEXTS[lang]
    _tickets(sql, 3)
    page.sign_in("admin", ADMIN_PASSWORD, lang)
    page.goto("/tickets/list/")
    page.page.click(".crm-columns-toggle")
    rows = page.page.locator(".crm-columns li")
    first = rows.nth(0).get_attribute("data-column")
    rows.nth(0).locator(".crm-column-shown").uncheck()
    page.page.locator(".crm-columns li[data-column=priority] .crm-column-up").click()
    page.page.click(".crm-columns-apply")
    page.page.wait_for_load_state("networkidle")
    assert "cols=" in page.page.url and f"cols={first}" not in page.page.url
    order = page.page.url.split("cols=", 1)[1].split("&", 1)[0].replace("%2C", ",").split(",")
    assert order.index("priority") < order.index("status")

    page.page.click(".crm-save-view-toggle")
    page.page.fill(".crm-save-view input[name=name]", "Open tickets")
    page.page.check(".crm-save-view input[name=is_default]")
    page.page.click(".crm-save-view-submit")
    page.page.wait_for_load_state("networkidle")
    assert text["saved"] in page.page.inner_text("body")
    assert sql("SELECT name, is_default, columns FROM saved_views") == [("Open tickets", True, order)]

    page.goto("/tickets/list/")  # the default view opens
    assert "sv=" in page.page.url and "Open tickets" in page.page.inner_text(".crm-view-current")
    page.page.click(".crm-views-toggle")
    page.page.click("a.crm-view-all")
    page.page.wait_for_load_state("networkidle")
    assert "view=all" in page.page.url and text["all_view"] in page.page.inner_text(".crm-view-current")
    page.assert_clean()
