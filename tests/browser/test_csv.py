"""CSV export and import in headless Debian Chromium: the buttons, the download, the dry-run report."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask_appbuilder.models.sqla.filters import FilterEqual

from tests.support.apps import ADMIN_PASSWORD
from tests.support.csv_files import as_dicts

pytestmark = pytest.mark.browser


def test_export_from_a_filtered_list_downloads_its_rows(browser_page, app, sql):
    page = browser_page
    for i in range(12):
        sql("INSERT INTO customers (name, industry, location) VALUES (:n, :i, '深圳')",
            n=f"客户 {i:02d}", i="Retail" if i % 2 else "Energy")
    from app.lists.links import filter_index

    with app.app_context():
        flt = f"_flt_{filter_index('/customers', 'industry', FilterEqual)}_industry"
    page.login("admin", ADMIN_PASSWORD)
    page.goto(f"/customers/list/?{flt}=Retail&_oc_CustomerView=name&_od_CustomerView=asc")
    with page.page.expect_download() as info:
        page.page.click("a.crm-export-csv")
    download = info.value
    assert download.suggested_filename.startswith("customers-") and download.suggested_filename.endswith(".csv")
    rows = as_dicts(Path(download.path()).read_bytes())
    expected = sql("SELECT name FROM customers WHERE industry = 'Retail' ORDER BY name, customer_id")
    assert [r["Name"] for r in rows] == [name for (name,) in expected] == [f"客户 {i:02d}" for i in range(1, 12, 2)]
    assert {r["Industry"] for r in rows} == {"Retail"}
    page.assert_clean()


def test_import_shows_the_dry_run_problems_then_imports_the_fixed_file(browser_page, sql):
    page = browser_page
    (cid,), = sql("INSERT INTO customers (name) VALUES ('父公司 Parent') RETURNING customer_id")
    page.login("admin", ADMIN_PASSWORD)
    page.goto("/contacts/list/")
    page.page.click("a.crm-import-csv")
    page.page.wait_for_load_state("networkidle")
    bad = (f"客户ID,名,姓,电子邮件\r\n{cid},伟,王,wang@example.com\r\n999999,Ada,Lovelace,ada@\r\n").encode("gbk")
    page.page.set_input_files("input[name=file]", {"name": "contacts.csv", "mimeType": "text/csv", "buffer": bad})
    page.page.click("button.crm-import-check")
    page.page.wait_for_load_state("networkidle")
    cells = page.page.locator("table.crm-import-problems tbody tr").all_inner_texts()
    assert [c.split("\t") for c in cells] == [
        ["3", "客户ID", "No customer with ID 999999."], ["3", "电子邮件", "Not a valid email address."]]
    assert page.page.locator("button.crm-import-confirm").count() == 0
    page.screenshot("csv-import-dry-run")
    assert sql("SELECT count(*) FROM contacts") == [(0,)]

    fixed = (f"客户ID,名,姓,电子邮件\r\n{cid},伟,王,wang@example.com\r\n{cid},Ada,Lovelace,ada@example.com\r\n").encode("gbk")
    page.page.set_input_files("input[name=file]", {"name": "contacts.csv", "mimeType": "text/csv", "buffer": fixed})
    page.page.click("button.crm-import-check")
    page.page.wait_for_load_state("networkidle")
    assert "2 rows are ready" in page.page.inner_text("div.crm-import-ready")
    page.page.click("button.crm-import-confirm")
    page.page.wait_for_load_state("networkidle")
    assert page.page.url.endswith("/contacts/list/")
    assert "Imported 2 rows from contacts.csv" in page.page.content()
    assert sql("SELECT first_name, last_name, email, customer_id FROM contacts ORDER BY contact_id") == [
        ("伟", "王", "wang@example.com", cid), ("Ada", "Lovelace", "ada@example.com", cid)]
    page.assert_clean()
