"""A chart's numbers as CSV over HTTP (both languages' headers), and a user's saved dashboard layout.

One test per fixture set: the snapshots and the dashboard's facts are generated once for the CSV checks and the
layout's round trip; the CSV is the chart as the page draws it for the same filters.
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


def numbers(cells: list[str]) -> list[float]:
    return [float(c.replace(",", "")) for c in cells]


def test_each_chart_exports_its_numbers_as_csv_with_the_pages_filters(admin, snapshots, sql):
    page = admin.get("/dashboard/?period=12m").get_data(as_text=True)
    links = [a.split('"', 1)[0] for a in page.split('href="')[1:] if a.startswith("/dashboard/export/")]
    assert len(links) == 7 and all(link.endswith(".csv?period=12m") for link in links)  # one per chart, as shown

    shown = page_charts(page)[0]  # pipeline by stage, as the page draws it for these filters
    table = rows(admin.get("/dashboard/export/pipeline_by_stage/1.csv?period=12m"))
    assert table[0] == ["Category", "value"]
    assert [r[0] for r in table[1:]] == [s.title() for s in OPPORTUNITY_STAGES]
    # plain numbers (no grouping), the same as the page's table; other filters, other numbers
    assert numbers([r[1] for r in table[1:]]) == numbers([r[1] for r in shown["rows"][1:]]) and any(
        numbers([r[1] for r in table[1:]]))
    empty = rows(admin.get("/dashboard/export/pipeline_by_stage/1.csv?period=custom&from=1991-01-01&to=1991-01-31"))
    assert not any(numbers([r[1] for r in empty[1:]]))
    (admin_id,), = sql("SELECT user_id FROM users WHERE username = 'admin'")
    narrowed = f"period=12m&owner={admin_id}"
    funnel = next(c for c in page_charts(admin.get(f"/dashboard/?{narrowed}").get_data(as_text=True))
                  if c["name"].startswith("Lead funnel"))
    assert rows(admin.get(f"/dashboard/export/lead_funnel/1.csv?{narrowed}"))[1:] == [
        [label, value.replace(",", "")] for label, value in funnel["rows"][1:]]

    switch_language(admin, "zh")
    table = rows(admin.get("/dashboard/export/pipeline_by_stage/1.csv"))
    assert table[0] == ["类别", "价值"] and table[1][0] == "初始"
    for missing in ("no_such_report/1.csv", "lead_funnel/2.csv", "lead_funnel/0.csv", "lead_funnel/1.csv?owner=999999"):
        assert admin.get(f"/dashboard/export/{missing}").status_code == 404  # the last: an owner not there
    assert admin.get("/dashboard/export/lead_funnel/1.csv?period=decade").status_code == 400


def test_a_saved_layout_keeps_charts_order_and_filters_until_reset(admin, snapshots, sql):
    def cards(page: str) -> list[str]:
        return [part.split('"', 1)[0] for part in page.split('crm-report" data-report-type="')[1:]]

    assert len(cards(admin.get("/dashboard/").get_data(as_text=True))) == 7
    # bad input: nothing chosen, an unknown chart, a position out of range; a form error, nothing saved
    for bad in ({"show": []}, {"show": ["nonsense"]}, {"show": ["ticket_age"], "position-ticket_age": "99"}):
        response = post_form(admin, "/dashboard/layout", bad, form_url="/dashboard/")
        assert response.status_code == 302
        assert "The layout was not saved" in flashes(admin)
    assert sql("SELECT count(*) FROM dashboard_layouts") == [(0,)]

    (admin_id,), = sql("SELECT user_id FROM users WHERE username = 'admin'")
    chosen = {"show": ["ticket_age", "pipeline_by_stage", "lead_funnel"], "position-ticket_age": "1",
              "position-pipeline_by_stage": "3", "position-lead_funnel": "2",
              "query": f"period=custom&from=2026-01-01&to=2026-03-31&owner={admin_id}&next=http://evil.example/"}
    response = post_form(admin, "/dashboard/layout", chosen, form_url="/dashboard/")
    assert response.status_code == 302
    saved = f"?period=custom&from=2026-01-01&to=2026-03-31&owner={admin_id}"
    assert response.headers["Location"].endswith("/dashboard/" + saved)
    # opened without arguments: to the saved filters; the saved charts in their order
    opened = admin.get("/dashboard/")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(saved)
    page = admin.get(opened.headers["Location"]).get_data(as_text=True)
    assert cards(page) == ["ticket_age", "lead_funnel", "pipeline_by_stage"]
    assert [c["name"].split(":")[0] for c in page_charts(page)] == [
        "Open ticket age", "Lead funnel", "Pipeline by stage"]
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
    assert len(cards(admin.get("/dashboard/").get_data(as_text=True))) == 7
    assert admin.post("/dashboard/layout", data={"show": ["ticket_age"]}).status_code == 400  # no CSRF token
