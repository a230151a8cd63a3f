"""The permission matrix in headless Chromium: an admin unticks one permission and saves the role."""
from __future__ import annotations

import pytest

from tests.support.apps import ADMIN_PASSWORD
from tests.support.permissions import grants

pytestmark = pytest.mark.browser


def test_admin_unticks_a_permission_in_the_browser(browser_page, sql):
    page = browser_page
    page.login("admin", ADMIN_PASSWORD)
    page.goto("/permission-matrix/")
    page.page.click("text=Sales Rep")
    page.page.wait_for_load_state("networkidle")
    page.page.uncheck("input[aria-label='Leads: edit']")
    page.screenshot("permission-matrix-role")
    page.page.click("text=Save permissions")
    page.page.wait_for_load_state("networkidle")
    assert "Role Sales Rep saved" in page.page.content()
    assert "can_edit on LeadView" not in grants(sql, "Sales Rep")
    assert "can_edit on ContactView" in grants(sql, "Sales Rep")
    page.assert_clean()
