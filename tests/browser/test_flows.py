"""The operators' flows in headless Chromium: customer 360 and quick-add, lead conversion, the pipeline board.

The last test loads the demo data, generates the reports and saves the README's
screenshots (dashboard, customer 360, pipeline board) into docs/screenshots/.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.apps import ADMIN_PASSWORD
from tests.support.browser import DOCS_SCREENSHOTS
from tests.support.screens import parents

pytestmark = pytest.mark.browser


def test_customer_360_and_quick_add_round_trip(browser_page, sql, add_rows):
    from app.models import Opportunity

    page = browser_page
    ids = parents(sql)
    cid = int(ids["customer"])
    add_rows(Opportunity, {"customer_id": cid, "name": "年度采购 Annual order", "stage": "proposal",
                           "value": Decimal("250000")})
    sql("INSERT INTO activities (customer_id, type, subject, activity_date) VALUES (:c, 'visit', 'Site visit 拜访', "
        "'2026-11-01 10:00')", c=cid)
    page.login("admin", ADMIN_PASSWORD)
    page.goto(f"/customers/show/{cid}")
    p = page.page
    assert p.locator("#open-opportunities").inner_text().count("年度采购 Annual order") == 1
    assert p.locator("#pipeline-value").inner_text() == "250,000.00"
    assert "Site visit 拜访" in p.locator("#timeline").inner_text()

    p.locator(".crm-quick-add a", has_text="Contact").click()
    p.wait_for_load_state("networkidle")
    assert "/contacts/add?customer=" in p.url
    assert "Parent 父公司" in p.locator(".select2-selection__rendered").first.inner_text()  # preselected
    p.fill("input[name=first_name]", "快")
    p.fill("input[name=last_name]", "李")
    p.fill("input[name=email]", "li.kuai@example.cn")
    p.click("button[type=submit]")
    p.wait_for_load_state("networkidle")
    assert p.url.endswith(f"/customers/show/{cid}")
    assert "li.kuai@example.cn" in p.locator("#contacts").inner_text()
    assert sql("SELECT customer_id FROM contacts WHERE email = 'li.kuai@example.cn'") == [(cid,)]
    page.assert_clean()


def test_lead_conversion_single_bulk_and_refusal(browser_page, sql):
    page = browser_page
    p = page.page
    ids = parents(sql)
    single, bulk_a, bulk_b = (sql("INSERT INTO leads (source, contact_id) VALUES (:s, :c) RETURNING lead_id",
                                  s=s, c=int(ids["contact"]))[0][0] for s in ("官网 Website", "Referral", "展会"))
    page.login("admin", ADMIN_PASSWORD)

    page.goto(f"/leads/show/{single}")
    with p.expect_navigation():
        p.click("#convert-lead")
    p.wait_for_load_state("networkidle")
    assert "Parent 父公司" in p.locator(".select2-selection__rendered").first.inner_text()
    p.fill("input[name=opportunity_name]", "官网线索 Pilot")
    p.fill("input[name=value]", "88000")
    with p.expect_navigation():
        p.click("#convert-submit")
    p.wait_for_load_state("networkidle")
    assert p.url.endswith(f"/customers/show/{ids['customer']}")
    assert f"Lead #{single} converted" in p.content()
    assert "官网线索 Pilot" in p.locator("#open-opportunities").inner_text()
    assert sql("SELECT status, converted_customer_id FROM leads WHERE lead_id = :l", l=single) == [
        ("converted", int(ids["customer"]))]

    page.goto(f"/leads/convert/{single}")  # a second conversion
    p.wait_for_load_state("networkidle")
    assert p.url.endswith(f"/leads/show/{single}") and "cannot be converted twice" in p.content()
    assert "官网线索 Pilot" in p.locator("#lead-conversion").inner_text()

    def bulk(*leads):
        page.goto("/leads/list/")
        for lead in leads:
            p.check(f"input.action_check[value='{lead}']")
        p.click("button.dropdown-toggle:has-text('Actions')")
        p.click(".convert_selected_menu_item")
        with p.expect_navigation():
            p.click("#modal-confirm-ok")
        p.wait_for_load_state("networkidle")

    bulk(bulk_a, bulk_b)
    p.get_by_text("2 lead(s) converted").first.wait_for()  # the list may still be loading after the redirect
    assert sql("SELECT count(*) FROM leads WHERE status = 'converted' AND converted_opportunity_id IS NOT NULL")[0][0] == 3
    before = sql("SELECT count(*) FROM opportunities")[0][0]
    bulk(bulk_a)
    p.get_by_text(f"#{bulk_a} is already converted").first.wait_for()
    assert sql("SELECT count(*) FROM opportunities")[0][0] == before
    page.screenshot("lead-conversion")
    page.assert_clean()


def test_board_drag_and_drop_saves_and_a_stale_card_snaps_back(browser_page, sql, add_rows):
    from app.models import Opportunity

    page = browser_page
    p = page.page
    ids = parents(sql)
    alpha, beta = add_rows(
        Opportunity,
        {"customer_id": int(ids["customer"]), "name": "Alpha deal", "stage": "initial", "value": Decimal("1000")},
        {"customer_id": int(ids["customer"]), "name": "Beta deal", "stage": "initial", "value": Decimal("500")})
    page.login("admin", ADMIN_PASSWORD)
    page.goto("/pipeline/")
    won = 'section[data-stage="won"]'
    p.drag_and_drop(f"#card-{alpha}", f"{won} .crm-cards")
    p.wait_for_selector(f"{won} #card-{alpha}:not(.crm-saving)")
    assert sql("SELECT stage, version FROM opportunities WHERE opportunity_id = :o", o=alpha) == [("won", 2)]
    assert p.locator(f"{won} .crm-count").inner_text() == "1"
    assert p.locator(f"{won} .crm-sum").inner_text() == "1,000.00"
    assert p.locator('section[data-stage="initial"] .crm-sum').inner_text() == "500.00"

    sql("UPDATE opportunities SET name = 'Beta deal (renamed)' WHERE opportunity_id = :o", o=beta)  # someone else
    p.drag_and_drop(f"#card-{beta}", 'section[data-stage="lost"] .crm-cards')
    message = p.locator("#pipeline-message")
    message.wait_for(state="visible")
    assert "Someone else changed" in message.inner_text()
    p.wait_for_selector(f'section[data-stage="initial"] #card-{beta}:not(.crm-saving)')
    assert sql("SELECT stage FROM opportunities WHERE opportunity_id = :o", o=beta) == [("initial",)]
    # the refused POST is logged by Chromium as a failed resource (409); nothing else may be
    assert all("409" in e for e in page.console_errors), page.console_errors
    page.console_errors.clear()
    page.assert_clean()


def test_readme_screenshots_on_demo_data(browser_page, app, sql):
    """Dashboard after `crm reports generate`, a customer's 360 page and the board, on the demo data."""
    from app.seed.demo import load_demo_data
    from app.extensions import db

    with app.app_context():
        load_demo_data()
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["crm", "reports", "generate"])
    assert result.exit_code == 0, result.output
    (cid,), = sql("SELECT customer_id FROM activities a WHERE customer_id IS NOT NULL "
                  "AND EXISTS (SELECT 1 FROM opportunities o WHERE o.customer_id = a.customer_id "
                  "AND o.stage NOT IN ('won', 'lost')) GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1")
    page = browser_page
    p = page.page
    page.login("admin", ADMIN_PASSWORD)
    page.goto("/dashboard/")
    page.assert_charts(7)  # the dashboard's seven charts (views/pages/dashboard.py)
    p.keyboard.press("Home")  # back to the top for the screenshot
    page.screenshot("dashboard", DOCS_SCREENSHOTS)
    page.goto(f"/customers/show/{cid}")
    assert p.locator(".crm-timeline li").count() > 0
    page.screenshot("customer-360", DOCS_SCREENSHOTS)
    page.goto("/pipeline/")
    assert p.locator(".crm-card").count() > 0
    page.screenshot("pipeline-board", DOCS_SCREENSHOTS)
    page.assert_clean()
