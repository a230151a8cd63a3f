"""The dashboard in headless Chromium: charts drawn by the server (no chart library), no shift, a bar's
drill-down by mouse, and a chart exported as a PNG drawn from its SVG."""
from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from tests.support.apps import ADMIN_PASSWORD
from tests.support.report_data import known, snapshots  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
CHARTS = 7  # one per chart of the dashboard's facts
BOXES_JS = "() => Array.from(document.querySelectorAll('svg.crm-svg')).map(svg => svg.getBoundingClientRect().height)"
SCRIPTS_JS = "() => performance.getEntriesByType('resource').map(e => e.name).filter(n => /\\.js(\\?|$)/.test(n))"
# the layout shifts since navigation (buffered entries come in one callback; none at all: no callback)
LAYOUT_SHIFT_JS = """() => new Promise(resolve => {
  new PerformanceObserver((list, observer) => {
    observer.disconnect();
    resolve(list.getEntries().filter(e => !e.hadRecentInput).reduce((sum, e) => sum + e.value, 0));
  }).observe({type: 'layout-shift', buffered: true});
  setTimeout(() => resolve(0), 500);
})"""


def test_dashboard_draws_every_chart_on_the_server_a_bar_opens_its_list_and_exports_png(browser_page, snapshots):
    page = browser_page
    p = page.page
    page.login("admin", ADMIN_PASSWORD)
    page.goto("/dashboard/")
    page.assert_charts(CHARTS)
    assert all(height > 150 for height in p.evaluate(BOXES_JS))
    # no chart library: the page's scripts are the app's few small ones
    scripts = p.evaluate(SCRIPTS_JS)
    assert not any("plotly" in s for s in scripts) and any("dashboard" in s for s in scripts), scripts
    assert p.evaluate(LAYOUT_SHIFT_JS) < 0.01
    charts = p.locator(".crm-chart")
    for i in range(CHARTS):
        # drawn marks (bars, slices, points), each with a box of its own
        marks = charts.nth(i).locator(".crm-mark")
        assert marks.count() > 0, f"chart {i} has no marks"
        box = marks.first.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0
    assert p.locator(".crm-kpi").count() == 8
    # Bootstrap's .small at 85% of 14 px is below Lighthouse's 12 px; lists.css raises it to 86%
    size = p.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.crm-kpi .small')).fontSize)")
    assert size >= 12, size
    page.screenshot("dashboard")

    # the PNG export: the SVG drawn on a canvas in the page, downloaded as a real PNG twice the chart's size
    pipeline = p.locator('[data-report-type="pipeline_by_stage"]')
    with p.expect_download() as download:
        pipeline.locator("button.crm-png").click()
    assert download.value.suggested_filename == "pipeline_by_stage-1.png"
    png = Path(download.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR" and len(png) > 5000
    width, height = struct.unpack(">II", png[16:24])
    view_box = pipeline.locator("svg.crm-svg").get_attribute("viewBox").split()
    assert (width, height) == (2 * int(view_box[2]), round(2 * float(view_box[3])))

    # click the "won" bar of the pipeline chart: the opportunities list filtered on that stage (and period)
    bar = pipeline.locator("a.crm-mark-link").nth(4)
    won = re.search(r" in ([\d,]+) ", bar.get_attribute("aria-label")).group(1).replace(",", "")
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    p.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # as a user would
    p.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    p.wait_for_url("**/opportunities/list/**")
    assert re.search(r"_flt_\d_stage=won", p.url)  # equal-to, position from the converter
    assert f"Record Count:</strong> {won}" in p.content()

    page.goto("/dashboard/history/lead_funnel")
    page.assert_charts(2)
    assert p.locator("svg.crm-svg[role=img] polyline").count() == 2  # a line each, no links: an image
    page.assert_clean()
