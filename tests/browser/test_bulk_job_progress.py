"""A bulk job's progress panel in Chromium, both languages: it follows the job without a reload."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask_appbuilder.models.sqla.filters import FilterEqual

from app.lists.links import filter_index
from tests.support.apps import ADMIN_PASSWORD, make_app

pytestmark = pytest.mark.browser

TEXTS = {
    "en": {"queued": "Queued", "start": "0 of 180 rows", "middle": "80 of 180 rows", "end": "180 of 180 rows",
           "done": "Done", "note": "in the background"},
    "zh": {"queued": "排队中", "start": "0 / 180 行", "middle": "80 / 180 行", "end": "180 / 180 行",
           "done": "完成", "note": "后台"},
}


@pytest.fixture
def app(pg, database):
    """A low inline limit, small batches, and no thread: the test runs the job's batches itself."""
    from app.extensions import db

    application = make_app(pg, database, BULK_INLINE_LIMIT=50, BULK_JOB_BATCH=40, BULK_JOB_THREADS=False)
    yield application
    with application.app_context():
        db.engine.dispose()


def _customers(sql) -> None:
    sql("INSERT INTO customers (name, industry) SELECT 'Bulk ' || g, CASE WHEN g % 5 < 2 THEN 'Retail' "
        "ELSE 'Energy' END FROM generate_series(1, 300) g")


def _select_all_energy(page, app, name: str) -> None:
    with app.app_context():
        index = filter_index("/customers", "industry", FilterEqual)
    page.goto(f"/customers/list/?_flt_{index}_industry=Energy&psize_CustomerView=10")
    page.page.check("input.action_check_all")
    page.page.wait_for_selector("#crm-bulk-bar", state="visible")
    page.page.click(".crm-bulk-all")
    page.page.click(f"xpath=//a[contains(@class,'{name}_menu_item')]/ancestor::div[contains(@class,'btn-group')][1]"
                    "/button")
    page.page.click(f"a.{name}_menu_item")
    page.page.wait_for_load_state("networkidle")


def _counts(page, expected: str) -> None:
    page.page.wait_for_function(
        "t => document.querySelector('.crm-bulk-job-counts').textContent.trim() === t", arg=expected, timeout=15_000)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_progress_panel_follows_a_delete_job(browser_page, app, sql, lang):
    from app.lists import bulk_jobs

    page, text = browser_page, TEXTS[lang]
    _customers(sql)
    page.login("admin", ADMIN_PASSWORD)
    if lang != "en":
        page.choose_language(lang)
    _select_all_energy(page, app, "bulk_delete")
    assert text["note"] in page.page.inner_text(".crm-bulk-background")
    page.page.click(".crm-bulk-submit")
    page.page.wait_for_selector("#crm-bulk-job")
    job_id = int(page.page.url.rstrip("/").rsplit("/", 1)[1])
    assert page.page.inner_text(".crm-bulk-job-status") == text["queued"]
    assert page.page.inner_text(".crm-bulk-job-counts") == text["start"]
    assert page.page.is_visible(".crm-bulk-job-cancel button")
    bulk_jobs.run(app, job_id, max_batches=2)  # two batches; the page learns it by polling
    _counts(page, text["middle"])
    assert bulk_jobs.run(app, job_id) is None  # its runner's lease still holds
    sql("UPDATE bulk_jobs SET lease_until = lease_until - interval '1 hour'")  # as if that runner died
    assert bulk_jobs.run(app, job_id) == job_id  # the rest
    _counts(page, text["end"])
    page.page.wait_for_selector(".crm-bulk-job-cancel", state="hidden")
    assert page.page.inner_text(".crm-bulk-job-status") == text["done"]
    assert sql("SELECT count(*) FROM customers WHERE industry = 'Energy'") == [(0,)]
    page.assert_clean()


def test_an_export_job_ends_with_its_download_link(browser_page, app, sql):
    from app.lists import bulk_jobs

    page = browser_page
    _customers(sql)
    page.login("admin", ADMIN_PASSWORD)
    _select_all_energy(page, app, "bulk_export")
    page.page.click(".crm-bulk-submit")
    page.page.wait_for_selector("#crm-bulk-job")
    assert not page.page.is_visible(".crm-bulk-job-download")
    job_id = int(page.page.url.rstrip("/").rsplit("/", 1)[1])
    bulk_jobs.run(app, job_id)
    page.page.wait_for_selector(".crm-bulk-job-download", state="visible", timeout=15_000)
    with page.page.expect_download() as download:
        page.page.click(".crm-bulk-job-download")
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").strip().splitlines()
    assert len(lines) == 181 and all(",Energy," in line for line in lines[1:])
    page.goto("/customers/list/")  # the list links back to the job, above its rows
    link = page.page.locator(".crm-bulk-job-link")
    assert "180 of 180 rows" in link.inner_text()
    assert link.bounding_box()["y"] < page.page.locator("input.action_check").first.bounding_box()["y"]
    link.locator("a").click()
    page.page.wait_for_selector(".crm-bulk-job-download", state="visible")
    page.assert_clean()
