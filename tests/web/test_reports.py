"""Report generators on known data, each checked against independent SQL (money: against the inputs).

Also: the JSON Schemas, the CLI, drill-down links (each opens a list with the
bar's number of rows), the dashboard's permissions, Refresh now, history, and
each chart's numbers as CSV.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from app.models.choices import ACTIVITY_TYPES, LEAD_STATUSES, OPPORTUNITY_STAGES, PRIORITIES, TICKET_STATUSES
from tests.support.client import login, post_form
from tests.support.pages import page_charts
from tests.support.report_data import known, snapshots  # noqa: F401  (fixtures)
from tests.support.users import ROLE_PASSWORD, make_role_user

SCHEMAS = Path(__file__).resolve().parents[2] / "app" / "reports" / "schemas"


def money(total: Decimal) -> float:
    return float(total.quantize(Decimal("0.01")))


def test_every_snapshot_matches_its_json_schema(snapshots):
    for report_type, (_at, data) in snapshots.items():
        schema = json.loads((SCHEMAS / f"{report_type}.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(data, schema)
    broken = dict(snapshots["pipeline_by_stage"][1], stages=[{"stage": "won", "count": -1, "value": 0}])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads((SCHEMAS / "pipeline_by_stage.json").read_text()))


def test_pipeline_by_stage(snapshots, known, sql):
    data = snapshots["pipeline_by_stage"][1]
    counts = dict(sql("SELECT stage, count(*) FROM opportunities GROUP BY stage"))
    values: dict[str, Decimal] = defaultdict(Decimal)
    for o in known["opportunities"]:
        values[o["stage"]] += o["value"] or 0
    assert [s["stage"] for s in data["stages"]] == list(OPPORTUNITY_STAGES)
    for s in data["stages"]:
        assert s["count"] == counts.get(s["stage"], 0)
        assert s["value"] == money(values[s["stage"]])
    open_stages = [s for s in OPPORTUNITY_STAGES if s not in ("won", "lost")]
    assert data["open_count"] == sum(counts[s] for s in open_stages)
    assert data["open_value"] == pytest.approx(float(sum(values[s] for s in open_stages)), abs=0.011)


def test_won_lost_by_month(snapshots, known, sql):
    at, data = snapshots["won_lost_by_month"]
    rows = sql("SELECT to_char(close_date, 'YYYY-MM'), stage, count(*) FROM opportunities "
               "WHERE stage IN ('won', 'lost') AND close_date >= date_trunc('month', CAST(:at AS timestamp)) "
               "- interval '23 months' GROUP BY 1, 2", at=at)
    expected = {(m, s): n for m, s, n in rows}
    won_value: dict[str, Decimal] = defaultdict(Decimal)
    for o in known["opportunities"]:
        if o["stage"] == "won" and o["close_date"]:
            won_value[f"{o['close_date']:%Y-%m}"] += o["value"] or 0
    assert len(data["months"]) == 24 and data["months"][-1]["month"] == f"{at:%Y-%m}"
    for m in data["months"]:
        won, lost = expected.get((m["month"], "won"), 0), expected.get((m["month"], "lost"), 0)
        assert (m["won"], m["lost"]) == (won, lost)
        assert m["won_value"] == money(won_value[m["month"]])
        assert m["win_rate"] == (round(won / (won + lost), 4) if won + lost else None)
    assert data["won"] == sum(n for (_m, s), n in expected.items() if s == "won") > 0
    assert data["win_rate"] == round(data["won"] / (data["won"] + data["lost"]), 4)


def test_revenue_by_industry(snapshots, known, sql):
    data = snapshots["revenue_by_industry"][1]
    counts = {i: n for i, n in sql("SELECT industry, count(*) FROM customers GROUP BY industry")}
    revenue: dict[str | None, Decimal] = defaultdict(Decimal)
    for c in known["customers"]:
        revenue[c["industry"]] += c["revenue"] or 0
    got = {i["industry"]: (i["customers"], i["revenue"]) for i in data["industries"]}
    assert got == {i: (counts[i], money(revenue[i])) for i in counts}
    assert [i["revenue"] for i in data["industries"]] == sorted((i["revenue"] for i in data["industries"]),
                                                                 reverse=True)
    assert data["revenue"] == money(sum(revenue.values(), Decimal(0)))


def test_customers_by_location_top_20_and_other(snapshots, sql):
    data = snapshots["customers_by_location"][1]
    top = sql("SELECT location, count(*) FROM customers GROUP BY location ORDER BY count(*) DESC LIMIT 20")
    total, = sql("SELECT count(*) FROM customers")[0]
    named = [i for i in data["locations"] if not i.get("other")]
    assert [(i["location"], i["customers"]) for i in named] == [tuple(r) for r in top]
    other, = [i for i in data["locations"] if i.get("other")]
    assert other["customers"] == total - sum(n for _l, n in top) and other["groups"] == 6  # 5 cities + NULL
    assert data["customers"] == total


def test_lead_funnel(snapshots, sql):
    data = snapshots["lead_funnel"][1]
    by_status = dict(sql("SELECT status, count(*) FROM leads GROUP BY status"))
    assert [(s["status"], s["count"]) for s in data["by_status"]] == \
        [(s, by_status.get(s, 0)) for s in LEAD_STATUSES]
    rows = sql("SELECT source, count(*), count(*) FILTER (WHERE status = 'converted') FROM leads "
               "GROUP BY source ORDER BY count(*) DESC, source LIMIT 20")
    named = {s["source"]: (s["leads"], s["converted"], s["conversion_rate"])
             for s in data["by_source"] if not s.get("other")}
    for source, leads, converted in rows:
        assert named[source] == (leads, converted, round(converted / leads, 4))
    total = sum(by_status.values())
    assert sum(s["leads"] for s in data["by_source"]) == data["total"] == total
    assert data["conversion_rate"] == round(by_status["converted"] / total, 4)


def test_activities_by_week(snapshots, sql):
    at, data = snapshots["activities_by_week"]
    rows = sql("SELECT to_char(date_trunc('week', activity_date), 'YYYY-MM-DD'), type, count(*) FROM activities "
               "WHERE activity_date >= date_trunc('week', CAST(:at AS timestamp)) - interval '25 weeks' "
               "GROUP BY 1, 2", at=at)
    expected = {(w, t): n for w, t, n in rows}
    assert data["weeks"][-1] == (at.date() - dt.timedelta(days=at.weekday())).isoformat()
    assert [s["type"] for s in data["series"]] == list(ACTIVITY_TYPES)
    for s in data["series"]:
        assert s["counts"] == [expected.get((w, s["type"]), 0) for w in data["weeks"]]
    assert data["total"] == sum(expected.values()) > 0


def test_open_tickets_and_age(snapshots, sql):
    data = snapshots["open_tickets"][1]
    rows = sql("SELECT status, priority, count(*) FROM service_tickets "
               "WHERE status NOT IN ('resolved', 'closed') GROUP BY 1, 2")
    expected = {(s, p): n for s, p, n in rows}
    assert {(c["status"], c["priority"]): c["count"] for c in data["cells"]} == \
        {(s, p): expected.get((s, p), 0) for s in ("open", "in progress") for p in PRIORITIES}
    assert data["total"] == sum(expected.values())
    assert set(TICKET_STATUSES) - set(data["statuses"]) == {"resolved", "closed"}

    at, ages = snapshots["ticket_age"]
    rows = sql("""SELECT CASE WHEN age < interval '1 day' THEN 0 WHEN age < interval '3 days' THEN 1
                              WHEN age < interval '7 days' THEN 2 WHEN age < interval '28 days' THEN 3
                              WHEN age < interval '90 days' THEN 4 ELSE 5 END, count(*)
                  FROM (SELECT CAST(:at AS timestamp) - created_at AS age FROM service_tickets
                        WHERE status IN ('open', 'in progress')) t GROUP BY 1""", at=at)
    expected = dict(rows)
    assert [b["count"] for b in ages["buckets"]] == [expected.get(i, 0) for i in range(6)]
    assert sum(1 for b in ages["buckets"] if b["count"]) >= 4  # the data spans the buckets


def test_generate_one_type_and_unknown_type(app, sql):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["crm", "reports", "generate", "--type", "open_tickets"])
    assert result.exit_code == 0, result.output
    assert sql("SELECT report_type, data->>'total' FROM reports WHERE data ? 'duration_ms'") == \
        [("open_tickets", "0")]
    result = runner.invoke(args=["crm", "reports", "generate", "--type", "nonsense"])
    assert result.exit_code == 2 and "nonsense" in result.output


# the number of records in a mark's name: its last whole number ("Proposal: 1,234.00 in 25 opportunities",
# "week of 2026-06-08: 3 Call", "Website: 6 converted (18%)"), never part of a date, amount or percentage
COUNT = re.compile(r"(?<![\d.,-])\d[\d,]*(?![\d.,%-])")


def _row_count(name: str) -> int:
    return int(COUNT.findall(name)[-1].replace(",", ""))


def test_dashboard_drill_down_links_open_lists_with_the_bars_rows(admin, snapshots):
    page = admin.get("/dashboard/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    charts = page_charts(text)
    assert len(charts) == 7  # one per chart, from the per-owner facts the same run built
    assert text.count('class="panel panel-default crm-kpi"') == 8
    checked = 0
    for chart in charts:
        for mark in chart["marks"]:
            listing = admin.get(mark["href"])
            assert listing.status_code == 200, mark
            body = listing.get_data(as_text=True)
            shown = re.search(r"Record Count:</strong>\s*(\d+)", body)
            assert (int(shown.group(1)) if shown else 0) == _row_count(mark["name"]), mark
            checked += 1
    assert checked > 100


def test_history_shows_a_trend_over_snapshots(admin, app, known):
    runner = app.test_cli_runner()
    for _ in range(3):
        assert runner.invoke(args=["crm", "reports", "generate", "--type", "pipeline_by_stage"]).exit_code == 0
    page = admin.get("/dashboard/history/pipeline_by_stage")
    assert page.status_code == 200
    charts = page_charts(page.get_data(as_text=True))
    assert [c["name"] for c in charts] == ["Pipeline by stage – history: open pipeline value",
                                           "Pipeline by stage – history: open opportunities"]
    counts = charts[1]["rows"][1:4]  # the data table: a row per snapshot (header first)
    assert len(counts) == 3 and counts[0][1] == "100" and charts[1]["role"] == "img"  # stages 0-3 of 150
    assert admin.get("/dashboard/history/no_such_report").status_code == 404


def test_refresh_now_generates_snapshots(admin, sql):
    assert "Not generated yet" in admin.get("/dashboard/").get_data(as_text=True)
    response = post_form(admin, "/dashboard/refresh", {}, form_url="/dashboard/")
    assert response.status_code == 302
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sql("SELECT count(*) FROM reports WHERE data ? 'duration_ms'")[0][0] < 8:
        time.sleep(0.2)
    assert sql("SELECT count(DISTINCT report_type) FROM reports WHERE data ? 'duration_ms'") == [(8,)]
    assert sql("SELECT action FROM logs WHERE action = 'reports.refresh'") == [("reports.refresh",)]
    assert admin.post("/dashboard/refresh", data={}).status_code == 400  # no CSRF token


def _user_with(app, name: str, permissions: list[tuple[str, str]]) -> None:
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.add_role(name)
        for action, resource in permissions:
            sm.add_permission_role(role, sm.find_permission_view_menu(action, resource))
        assert sm.add_user(name, "T", "User", f"{name}@example.com", role, password="Passw0rd-" + name)


def test_roles_decide_who_sees_and_refreshes_the_dashboard(app, snapshots, sql):
    _user_with(app, "viewer", [("can_read", "DashboardView"), ("menu_access", "Dashboard"),
                               ("menu_access", "Analytics")])
    _user_with(app, "clerk", [("can_list", "CustomerView"), ("menu_access", "Customers")])
    viewer, clerk = app.test_client(), app.test_client()
    login(viewer, "viewer", "Passw0rd-viewer")
    login(clerk, "clerk", "Passw0rd-clerk")

    # every user sees the charts of their own scope (the default, own: nothing of the admin's records);
    # the snapshots' history links only for a user who sees every record (docs/security.md)
    page = viewer.get("/dashboard/").get_data(as_text=True)
    assert "crm-chart" in page and "/dashboard/history/" not in page and "Refresh now" not in page
    assert re.search(r'data-kpi="won_count">.*?<a href="[^"]*">0<', page, re.S)
    manager = app.test_client()
    login(manager, make_role_user(app, "Sales Manager"), ROLE_PASSWORD)
    page = manager.get("/dashboard/").get_data(as_text=True)
    assert "crm-chart" in page and "/dashboard/history/" not in page
    sql("INSERT INTO role_data_scopes (role_id, table_name, scope) SELECT role_id, t, 'all' FROM roles, "
        "unnest(ARRAY['customers', 'leads', 'opportunities', 'service_tickets']) t WHERE role_name = 'viewer'")
    page = viewer.get("/dashboard/").get_data(as_text=True)
    assert "crm-chart" in page and "/dashboard/history/" in page and "Refresh now" not in page
    assert 'href="/dashboard/"' in viewer.get("/").get_data(as_text=True)  # in the menu
    assert post_form(viewer, "/dashboard/refresh", {}, form_url="/dashboard/").status_code == 403

    time.sleep(0.5)
    assert sql("SELECT count(*) FROM reports") == [(8,)] and not sql("SELECT 1 FROM logs WHERE action = 'reports.refresh'")
    denied = clerk.get("/dashboard/")
    assert denied.status_code == 403 and "crm-chart" not in denied.get_data(as_text=True)
    assert 'href="/dashboard/"' not in clerk.get("/").get_data(as_text=True)
    assert clerk.get("/dashboard/history/lead_funnel").status_code == 403
    assert app.test_client().get("/dashboard/").status_code == 302  # anonymous: to the login page


def test_a_second_run_is_refused_while_one_is_generating(app, admin, pg, database, sql):
    import psycopg
    from sqlalchemy.engine import make_url

    from app.reports.generators import LOCK_KEY

    with psycopg.connect(pg.libpq(make_url(database).database), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))  # as a running `reports generate` holds it
        result = app.test_cli_runner().invoke(args=["crm", "reports", "generate"])
        assert result.exit_code == 1 and "being generated by another process" in result.output
        page = admin.get("/dashboard/").get_data(as_text=True)
        assert "Reports are being generated" in page and "Refreshing…" in page
        post_form(admin, "/dashboard/refresh", {}, form_url="/dashboard/")
        assert "already being generated" in admin.get("/dashboard/").get_data(as_text=True)
    assert sql("SELECT count(*) FROM reports") == [(0,)]


@pytest.mark.parametrize("role,can_read,can_refresh,can_search", [
    ("Sales Manager", True, True, True), ("Sales Rep", True, False, True),
    ("Support Agent", False, False, True), ("Auditor", True, False, True)])
def test_default_roles_get_the_dashboard_and_search_as_their_table_says(sql, role, can_read, can_refresh,
                                                                         can_search):
    def has(permission: str) -> bool:
        return bool(sql("SELECT 1 FROM role_permissions rp JOIN roles r USING (role_id) "
                        "JOIN permissions p USING (permission_id) "
                        "WHERE r.role_name = :r AND p.permission_name = :p", r=role, p=permission))

    assert has("can_read on DashboardView") == can_read
    assert has("can_refresh on DashboardView") == can_refresh
    assert has("can_search on SearchView") == can_search
