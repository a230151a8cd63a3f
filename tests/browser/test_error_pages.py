"""Error pages in headless Chromium: the app's menu and icon, Back to the page before, Home otherwise."""
from __future__ import annotations

import pytest

from tests.support.apps import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def test_error_page_in_a_browser_has_the_menu_the_icon_and_a_way_home(browser_page):
    page = browser_page
    page.login("admin", ADMIN_PASSWORD)
    page.goto("/customers/list/")
    # as after following a stale link from the list (a typed address sends no Referer: Home only)
    page.page.goto(page.base_url + "/customers/show/999999999", referer=page.base_url + "/customers/list/")
    assert page.page.locator("h1").first.inner_text().startswith("Page not found")
    assert page.page.locator(".navbar").get_by_text("Customers").count() > 0
    page.screenshot("error-page-404")
    page.page.get_by_role("link", name="Back", exact=True).click()
    page.page.wait_for_load_state("networkidle")
    assert page.page.url.endswith("/customers/list/")
    page.goto("/no-such-page/")  # typed: no page to go back to, Home only
    assert page.page.get_by_role("link", name="Back", exact=True).count() == 0
    page.page.get_by_role("link", name="Home", exact=True).click()
    page.page.wait_for_load_state("networkidle")
    assert page.page.url.rstrip("/") == page.base_url
    icon = page.page.locator("link[rel=icon]").get_attribute("href")
    assert page.page.request.get(page.base_url + icon).status == 200
    # the console reports the two 404 documents themselves, and nothing else (every asset loaded)
    assert page.console_errors == ["Failed to load resource: the server responded with a status of 404 (NOT FOUND)"] * 2
    assert page.foreign_requests == []
