"""How reports are computed at scale: the shared scans of one run over one snapshot, a failing
amount costing only its reports, and the dashboard reading only snapshots (the bulk decryption:
tests/unit/test_key_ring_sums.py)."""
from __future__ import annotations

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


def test_the_dashboard_reads_only_the_facts_in_a_few_statements(app, admin, snapshots, owner_sql):
    # six weeks of hourly snapshots of every type: the dashboard does not read them any more
    owner_sql("INSERT INTO reports (report_type, data, generated_at) "
              "SELECT report_type, data, generated_at - h * interval '1 hour' FROM reports, "
              "generate_series(1, 1000) h")
    for query in ("period=12m", "period=month&owner=1", "period=custom&from=2025-01-15&to=2026-02-03"):
        seen, stop = _statements(app)
        try:
            page = admin.get(f"/dashboard/?{query}")
        finally:
            stop()
        assert page.status_code == 200 and page.get_data(as_text=True).count('class="crm-chart"') == 7
        # (the once-a-second schema check names the tables in its digest of their columns, not their rows)
        read = [s for s, _p in seen if "FROM crm_schema_version" not in s]
        assert read and not [s for s in read if CRM_TABLES.search(s) or re.search(r"\bFROM reports\b", s)]
        facts = [s for s, _p in seen if "dashboard_facts" in s]
        assert 8 <= len(facts) <= 14, len(facts)  # two periods' key figures, then the charts' own reads
