"""A chart's numbers as CSV over HTTP (both languages' headers), and a user's saved dashboard layout.

One test per fixture set: the snapshots are generated once for the CSV checks and the layout's round trip.
"""
from __future__ import annotations

import csv
import io

from app.models.choices import OPPORTUNITY_STAGES
from tests.support.client import flashes, post_form, switch_language
from tests.support.pages import page_charts
from tests.support.report_data import known, snapshots  # noqa: F401  (fixtures)

CSV_TYPE = "text/csv; charset=utf-8"


def rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response.headers["Content-Type"] == CSV_TYPE
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel opens UTF-8 (and Chinese) only with the BOM
    return list(csv.reader(io.StringIO(text[1:])))


def test_each_chart_exports_its_numbers_as_csv_in_the_users_language(admin, snapshots):
    page = admin.get("/dashboard/").get_data(as_text=True)
    links = [a for a in page.split('href="')[1:] if a.startswith("/dashboard/export/")]
    assert len(links) == 9  # one per chart: the lead funnel has two

    stages = snapshots["pipeline_by_stage"][1]["stages"]
    table = rows(admin.get("/dashboard/export/pipeline_by_stage/1.csv"))
    assert table[0] == ["Category", "value"]
    assert [r[0] for r in table[1:]] == [s.title() for s in OPPORTUNITY_STAGES]
    # plain numbers (no grouping, no rounding to the screen's format): the snapshot's own
    assert [float(r[1]) for r in table[1:]] == [s["value"] for s in stages]

    sources = snapshots["lead_funnel"][1]["by_source"]
    table = rows(admin.get("/dashboard/export/lead_funnel/2.csv?period=month&owner=1"))
    assert table[0] == ["Category", "leads", "converted"]
    assert [int(r[1]) for r in table[1:]] == [s["leads"] for s in sources]
    assert [int(r[2]) for r in table[1:]] == [s["converted"] for s in sources]
    assert "展会" in [r[0] for r in table]  # Chinese data survives the round trip

    switch_language(admin, "zh")
    table = rows(admin.get("/dashboard/export/pipeline_by_stage/1.csv"))
    assert table[0] == ["类别", "价值"] and table[1][0] == "初始"
    for missing in ("no_such_report/1", "lead_funnel/3", "lead_funnel/0"):
        assert admin.get(f"/dashboard/export/{missing}.csv").status_code == 404


def test_a_saved_layout_keeps_charts_order_and_filters_until_reset(admin, snapshots, sql):
    def cards(page: str) -> list[str]:
        return [part.split('"', 1)[0] for part in page.split('crm-report" data-report-type="')[1:]]

    assert len(cards(admin.get("/dashboard/").get_data(as_text=True))) == 8
    # bad input: nothing chosen, an unknown chart, a position out of range; a form error, nothing saved
    for bad in ({"show": []}, {"show": ["nonsense"]}, {"show": ["ticket_age"], "position-ticket_age": "99"}):
        response = post_form(admin, "/dashboard/layout", bad, form_url="/dashboard/")
        assert response.status_code == 302
        assert "The layout was not saved" in flashes(admin)
    assert sql("SELECT count(*) FROM dashboard_layouts") == [(0,)]

    chosen = {"show": ["ticket_age", "pipeline_by_stage", "lead_funnel"], "position-ticket_age": "1",
              "position-pipeline_by_stage": "3", "position-lead_funnel": "2",
              "query": "period=custom&from=2026-01-01&to=2026-03-31&team=2&next=http://evil.example/"}
    response = post_form(admin, "/dashboard/layout", chosen, form_url="/dashboard/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard/?period=custom&from=2026-01-01&to=2026-03-31&team=2")
    # opened without arguments: to the saved filters; the saved charts in their order
    opened = admin.get("/dashboard/")
    assert opened.status_code == 302 and opened.headers["Location"].endswith("?period=custom&from=2026-01-01"
                                                                              "&to=2026-03-31&team=2")
    page = admin.get(opened.headers["Location"]).get_data(as_text=True)
    assert cards(page) == ["ticket_age", "lead_funnel", "pipeline_by_stage"]
    assert [c["name"].split(":")[0] for c in page_charts(page)] == [
        "Open ticket age", "Lead funnel", "Lead funnel", "Pipeline by stage"]
    assert "/dashboard/export/ticket_age/1.csv?period=custom&amp;from=2026-01-01" in page  # exports as shown
    assert admin.get("/dashboard/?period=month").status_code == 200  # other filters: as asked, not redirected

    # a second save replaces the first (one layout per user); the reset brings the default back
    again = post_form(admin, "/dashboard/layout", {"show": ["open_tickets"], "position-open_tickets": "1"},
                      form_url="/dashboard/?period=month")
    assert again.headers["Location"].endswith("/dashboard/")
    assert sql("SELECT charts, query FROM dashboard_layouts") == [(["open_tickets"], "")]
    assert cards(admin.get("/dashboard/").get_data(as_text=True)) == ["open_tickets"]
    assert post_form(admin, "/dashboard/layout/reset", {}, form_url="/dashboard/").status_code == 302
    assert sql("SELECT count(*) FROM dashboard_layouts") == [(0,)]
    assert len(cards(admin.get("/dashboard/").get_data(as_text=True))) == 8
    assert admin.post("/dashboard/layout", data={"show": ["ticket_age"]}).status_code == 400  # no CSRF token
