"""How reports are computed at scale: the shared scans of one run over one snapshot, a failing
amount costing only its reports, and the dashboard reading only snapshots (the bulk decryption:
tests/unit/test_key_ring_sums.py)."""
from __future__ import annotations

import json
import re
from decimal import Decimal

from sqlalchemy import event

from tests.support.report_data import NOW, TYPES, known, snapshots  # noqa: F401  (fixtures)

CRM_TABLES = re.compile(r"\b(customers|contacts|leads|opportunities|activities|service_tickets)\b")


def test_scans_of_a_run_read_the_snapshot_taken_when_it_started(app, known, add_rows, sql):
    from app.encryption.columns import key_ring
    from app.extensions import db
    from app.models import Opportunity
    from app.reports.scans import Run, opportunity_counts, opportunity_values

    from app.ops.database import owner_engine

    # as the report job does: the owner role, which the row-level policies do not limit
    with app.app_context(), owner_engine(app.config) as engine:
        with Run(engine, key_ring(), NOW, workers=2) as run:
            run.start([opportunity_counts])
            # written and committed after the run began: none of its scans may see it
            add_rows(Opportunity, {"customer_id": known["opportunities"][0]["customer_id"], "name": "late",
                                   "stage": "initial", "value": Decimal("1000.00")})
            sql("DELETE FROM opportunities WHERE stage = 'lost'")
            counts, values = run.result(opportunity_counts), run.result(opportunity_values)
    assert sum(counts.values()) == len(known["opportunities"])
    assert sum(values.values()) == sum(int(o["value"] * 100) for o in known["opportunities"] if o["value"])
    assert sum(n for (stage, _month), n in counts.items() if stage == "lost") == 25


def test_one_or_two_workers_and_single_types_give_the_same_numbers(app, known):
    from app.extensions import db
    from app.reports.generators import generate

    def numbers(rows) -> dict[str, dict]:
        return {r.report_type: {k: v for k, v in r.data.items() if k != "duration_ms"} for r in rows}

    with app.app_context():
        both = numbers(generate(workers=2))
        one = numbers(generate(workers=1))
        # alone, won/lost per month decrypts only the won deals in its months (not the whole pipeline)
        alone = numbers(generate(["won_lost_by_month"]) + generate(["revenue_by_industry", "lead_funnel"]))
        db.session.remove()
    assert sorted(both) == sorted(TYPES) and one == both
    assert alone == {t: both[t] for t in alone} and len(alone) == 3
    assert both["won_lost_by_month"]["months"] and any(m["won_value"] for m in both["won_lost_by_month"]["months"])


def test_an_amount_that_does_not_decrypt_costs_only_the_reports_that_sum_it(app, known, sql):
    bad, source = sql("SELECT opportunity_id FROM opportunities WHERE value IS NOT NULL "
                      "ORDER BY opportunity_id LIMIT 2")
    sql("UPDATE opportunities SET value = (SELECT value FROM opportunities WHERE opportunity_id = :s) "
        "WHERE opportunity_id = :b", s=source[0], b=bad[0])  # a ciphertext copied to another row
    result = app.test_cli_runner().invoke(args=["crm", "reports", "generate"])
    assert result.exit_code == 1
    assert f"opportunities.value of row {bad[0]} does not decrypt" in result.output
    assert "pipeline_by_stage not generated" in result.output and "won_lost_by_month not generated" in result.output
    written = {t for (t,) in sql("SELECT report_type FROM reports")}
    assert written == set(TYPES) - {"pipeline_by_stage", "won_lost_by_month"}


def _statements(app):
    """Collect (statement, parameters) of every SQL statement the app sends while in the block."""
    from app.extensions import db

    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(engine, "before_cursor_execute", record)


def test_the_dashboard_reads_snapshots_only_one_index_probe_per_type(app, admin, snapshots, owner_sql, sql):
    # six weeks of hourly snapshots of every type
    owner_sql("INSERT INTO reports (report_type, data, generated_at) "
              "SELECT report_type, data, generated_at - h * interval '1 hour' FROM reports, "
              "generate_series(1, 1000) h")
    owner_sql("ANALYZE reports")
    seen, stop = _statements(app)
    try:
        page = admin.get("/dashboard/")
    finally:
        stop()
    assert page.status_code == 200 and page.get_data(as_text=True).count("crm-generated-at") == 8
    assert seen and not [s for s, _p in seen if CRM_TABLES.search(s)]
    (latest, params), = [(s, p) for s, p in seen if re.search(r"\bFROM reports\b", s)]

    from app.extensions import db

    from tests.support.users import act_as

    with app.app_context(), db.engine.connect() as conn:
        act_as(conn, "admin")  # as the dashboard's request: the admin's policies
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + latest, params).scalar()
    plan = plan if isinstance(plan, list) else json.loads(plan)

    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    on_reports = [n for n in nodes(plan[0]["Plan"]) if n.get("Relation Name") == "reports"]
    assert on_reports and all(n["Node Type"].startswith("Index") for n in on_reports)
    # a backward probe per type, not 8 x 1,001 rows read and sorted: one row, or two where the
    # reports' row-level policy makes the planner take the index's first group (an incremental sort)
    assert sum(n["Actual Rows"] * n["Actual Loops"] for n in on_reports) <= 2 * len(TYPES)


def test_charts_built_once_per_snapshot_are_rebuilt_when_it_is_edited(admin, snapshots, sql):
    from tests.support.pages import page_charts

    def pipeline_counts() -> list:
        text = admin.get("/dashboard/").get_data(as_text=True)
        first = page_charts(text)[0]  # pipeline by stage: counts per stage in the bars' names
        return [m["name"] for m in first["marks"]]

    before = pipeline_counts()
    assert pipeline_counts() == before  # the second page is drawn from the process's stored figures
    sql("UPDATE reports SET data = jsonb_set(data, '{stages,0,count}', '98765') "
        "WHERE report_type = 'pipeline_by_stage'")
    after = pipeline_counts()
    assert after != before and "98,765" in json.dumps(after)
