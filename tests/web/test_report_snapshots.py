"""Report snapshots on every write path and every reader: shapes checked, money sealed, no 500.

Writes (generators, demo data, the reports screen, the ORM) refuse a snapshot
that is not of its documented shape or is dated in the future. Readers (the
dashboard and every history page) skip a stored snapshot they cannot draw, with
a note, in both languages. Money figures are ciphertext in the table, the audit
log, a dump and a backup, and `crm rotate-key` re-seals them.
"""
from __future__ import annotations

import datetime as dt
import json
import struct
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from flask_migrate import downgrade, upgrade

from app.security.default_roles import DEFAULT_ROLES
from app.ops.embedded_db import bin_path
from app.models import Customer, Report
from tests.support.apps import db_name, own_ring_app  # noqa: F401  (fixture: rotation leaves the session's ring alone)
from tests.support.cli import crm, crm_cli  # noqa: F401  (fixture: an instance of its own, as `make run` makes it)
from tests.support.client import login, post_form, switch_language
from tests.support.pages import page_charts
from tests.support.report_data import TYPES, known, opened, snapshots  # noqa: F401  (fixtures)
from tests.support.users import ROLE_PASSWORD, as_admin, make_role_user

CANARY = "7316529.47"
CANARY_DIGITS = ("7316529", "731652947")  # the amount as text, and in cents
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
# the shape the demo loader wrote before: counts only, no title, no values
OLD_DEMO_PIPELINE = {"stages": {"initial": 19, "qualification": 19, "proposal": 18, "negotiation": 18,
                                "won": 18, "lost": 18}}
SKIPPED = "cannot be read and are not shown"
SKIPPED_ZH = "无法读取"


def revenue_snapshot(revenue: float, industry: str = "Canaries") -> dict:
    return {"title": "Customer revenue by industry", "duration_ms": 3,
            "industries": [{"industry": industry, "customers": 1, "revenue": revenue}],
            "customers": 1, "revenue": revenue}


def insert(sql, report_type: str, data, at: dt.datetime) -> int:
    """A row written by plain SQL, past every check: what an older version or an operator may have left."""
    (pk,), = sql("INSERT INTO reports (report_type, data, generated_at) VALUES (:t, CAST(:d AS jsonb), :at) "
                 "RETURNING report_id", t=report_type, d=json.dumps(data), at=at)
    return pk


def pages(client) -> dict[str, str]:
    """The dashboard and every history page, each asserted 200."""
    urls = ["/dashboard/"] + [f"/dashboard/history/{t}" for t in TYPES]
    found = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        found[url] = response.get_data(as_text=True)
    return found


def charts_per_type(page: str) -> dict[str, int]:
    """Number of drawn charts in each report's panel of the dashboard."""
    counts = {}
    for part in page.split('data-report-type="')[1:]:
        counts[part.split('"', 1)[0]] = part.split('data-report-type="', 1)[0].count('class="crm-chart"')
    return counts


def all_text_in_database(sql) -> str:
    """Every text, varchar, json and jsonb value of every table (every schema but the system's), as one string."""
    columns = sql("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                  "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
                  "AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'character')")
    values = []
    for schema, table, column in columns:
        values += [str(v) for (v,) in sql(f'SELECT "{column}"::text FROM "{schema}"."{table}" '
                                          f'WHERE "{column}" IS NOT NULL')]
    return "\n".join(values)


# ---------------------------------------------------------------- readers
def test_dashboard_and_history_never_500_on_stored_snapshots_of_any_shape(app, admin, sql, snapshots):
    (newest,), = sql("SELECT max(generated_at) FROM reports")
    later = newest + dt.timedelta(microseconds=1)  # newer than the generated snapshots, not in the future
    insert(sql, "pipeline_by_stage", OLD_DEMO_PIPELINE, later)
    insert(sql, "revenue_by_industry", {}, dt.datetime(9999, 12, 31))  # the admin's `{}` of the issue
    insert(sql, "lead_funnel", [], later)
    insert(sql, "customers_by_location", {"locations": "everywhere"}, later)
    # of the documented shape, but a status without cells: drawing it fails
    cells = [{"status": "in progress", "priority": p, "count": 1} for p in ("low", "medium", "high", "urgent")] * 2
    insert(sql, "open_tickets", {"title": "t", "duration_ms": 0, "statuses": ["open"],
                                 "priorities": ["low"], "cells": cells, "total": 8}, later)
    # a sealed figure copied from another snapshot does not decrypt
    (good_id, good), = sql("SELECT report_id, data FROM reports WHERE report_type = 'won_lost_by_month'")
    copied = insert(sql, "won_lost_by_month", good, later)
    assert copied != good_id and good["months"][0]["won_value"].startswith("enc1:")
    insert(sql, "no_such_report", "x", later)

    found = pages(admin)
    # the dashboard draws the per-owner facts: stored snapshots, of any shape, do not reach it
    assert "crm-chart" in found["/dashboard/"] and SKIPPED not in found["/dashboard/"]
    for report_type in ("pipeline_by_stage", "revenue_by_industry", "lead_funnel", "customers_by_location",
                        "won_lost_by_month"):
        history = found[f"/dashboard/history/{report_type}"]
        assert SKIPPED in history and len(page_charts(history)) >= 1, report_type
    assert "dated in the future" in found["/dashboard/history/revenue_by_industry"]
    assert "does not decrypt" in found["/dashboard/history/won_lost_by_month"]
    assert "is not a valid pipeline_by_stage snapshot" in found["/dashboard/history/pipeline_by_stage"]
    assert SKIPPED not in found["/dashboard/history/ticket_age"]
    assert admin.get("/dashboard/history/no_such_report").status_code == 404

    switch_language(admin, "zh")
    chinese = pages(admin)["/dashboard/history/lead_funnel"]
    assert SKIPPED_ZH in chinese and SKIPPED not in chinese


def test_migration_0015_upgrades_the_old_demo_shape_and_seals_stored_money(app, admin, sql, owner_sql):
    with app.app_context():
        downgrade(revision="0014")
    old = [insert(sql, "pipeline_by_stage", OLD_DEMO_PIPELINE, NOW - dt.timedelta(days=d)) for d in (0, 7, 14)]
    plain = insert(sql, "revenue_by_industry", revenue_snapshot(float(CANARY)), NOW - dt.timedelta(days=1))
    odd = insert(sql, "lead_funnel", {"whatever": True}, NOW - dt.timedelta(days=1))
    trail = "SELECT description FROM logs WHERE table_name = 'reports'"
    assert CANARY in str(sql(trail))  # the audit trigger copied the plain snapshot
    before_logs = sql("SELECT count(*) FROM logs")
    with app.app_context():
        upgrade(revision="0015")
    assert sql("SELECT count(*) FROM logs") == before_logs  # not a user's edit: no audit rows
    with app.app_context():  # later migrations may audit rows of their own (0026: the roles' data scopes)
        upgrade()
    assert all(d not in str(sql(trail)) for d in CANARY_DIGITS) and "[redacted]" in str(sql(trail))
    assert '"customers": 1' in str(sql(trail))  # only the money is gone from the trail
    with pytest.raises(Exception, match="append-only|permission denied"):  # append-only again
        owner_sql("UPDATE logs SET description = 'x' WHERE table_name = 'reports'")

    from app.reports.shapes import problem

    stored = dict(sql("SELECT report_id, data FROM reports"))
    for pk in old:
        data = opened(app, stored[pk], pk)
        with app.test_request_context():
            assert problem("pipeline_by_stage", data) is None
        assert [(s["stage"], s["count"], s["value"]) for s in data["stages"]][:2] == [
            ("initial", 19, None), ("qualification", 19, None)]
        assert data["open_count"] == 74 and data["open_value"] is None
    assert all(d not in json.dumps(stored[plain]) for d in CANARY_DIGITS)
    assert opened(app, stored[plain], plain)["revenue"] == float(CANARY)
    assert stored[odd] == {"whatever": True}  # left as it is: readers skip it

    found = pages(admin)
    trend = page_charts(found["/dashboard/history/pipeline_by_stage"])
    assert any("74" in [r[1] for r in c["rows"][1:]] for c in trend)  # the open count, as stored
    assert any(CANARY in json.dumps(c).replace(",", "") for c in page_charts(found["/dashboard/history/revenue_by_industry"]))
    assert SKIPPED in found["/dashboard/history/lead_funnel"]
    assert SKIPPED not in found["/dashboard/history/pipeline_by_stage"]

    with app.app_context():  # and back down: the figures are plain numbers again
        downgrade(revision="0014")
        assert opened(app, stored[plain], plain) == dict(sql(
            "SELECT report_id, data FROM reports"))[plain]
        upgrade()


# ---------------------------------------------------------------- writers
def test_reports_screen_refuses_a_bad_snapshot_with_a_form_error(app, admin, sql):
    before = sql("SELECT count(*) FROM reports")
    cases = [
        ({"report_type": "revenue_by_industry", "data": "{}", "generated_at": "9999-12-31"},
         ["is not a valid revenue_by_industry snapshot", "cannot be dated in the future"]),
        ({"report_type": "revenue_by_industry", "data": json.dumps(revenue_snapshot(1.0)),
          "generated_at": "9999-12-31 00:00:00"}, ["cannot be dated in the future"]),
        ({"report_type": "revenue_by_industry", "data": json.dumps(revenue_snapshot(-1.0)),
          "generated_at": "2026-01-01"}, ["is less than the minimum of 0"]),
        ({"report_type": "pipeline_by_stage", "data": json.dumps(OLD_DEMO_PIPELINE), "generated_at": ""},
         ["is not a valid pipeline_by_stage snapshot"]),
        ({"report_type": "lead_funnel", "data": '{"total": NaN}', "generated_at": ""}, ["NaN"]),
        ({"report_type": "no_such_report", "data": "{}", "generated_at": ""}, ["Not a valid choice"]),
        # too deep for Python's parser (a RecursionError, not a ValueError), and deep but parseable
        ({"report_type": "pipeline_by_stage", "data": '{"a":' + "[" * 5000 + "]" * 5000 + "}",
          "generated_at": ""}, ["nested too deeply"]),
        ({"report_type": "pipeline_by_stage", "data": '{"a":' + "[" * 900 + "]" * 900 + "}",
          "generated_at": ""}, ["is not a valid pipeline_by_stage snapshot"]),
    ]
    for form, messages in cases:
        response = post_form(admin, "/reports/add", form)
        page = response.get_data(as_text=True)
        assert response.status_code == 200, (form, response.status_code)
        for message in messages:
            assert message in page, (form, message)
    assert sql("SELECT count(*) FROM reports") == before

    good = {"report_type": "revenue_by_industry", "data": json.dumps(revenue_snapshot(float(CANARY))),
            "generated_at": "2026-01-02 03:04:05"}
    assert post_form(admin, "/reports/add", good).status_code == 302
    (pk, stored), = sql("SELECT report_id, data FROM reports")
    assert stored["revenue"].startswith("enc1:") and CANARY not in json.dumps(stored)
    edit_page = admin.get(f"/reports/edit/{pk}").get_data(as_text=True)
    assert CANARY in edit_page  # the form shows the plain figure

    response = post_form(admin, f"/reports/edit/{pk}", {**good, "data": "{}"})
    assert response.status_code == 200 and "is not a valid revenue_by_industry snapshot" in response.get_data(
        as_text=True)
    response = post_form(admin, f"/reports/edit/{pk}", {**good, "generated_at": "9999-12-31"})
    assert response.status_code == 200 and "cannot be dated in the future" in response.get_data(as_text=True)
    assert sql("SELECT data FROM reports") == [(stored,)]
    edited = {**good, "data": json.dumps(revenue_snapshot(12.5, "Birds"))}
    assert post_form(admin, f"/reports/edit/{pk}", edited).status_code == 302
    assert opened(app, sql("SELECT data FROM reports")[0][0], pk)["industries"][0]["industry"] == "Birds"
    audit = " ".join(str(r) for r in sql("SELECT description FROM logs WHERE table_name = 'reports'"))
    assert "Birds" in audit and all(d not in audit for d in CANARY_DIGITS)  # the trail copies ciphertext

    switch_language(admin, "zh")
    response = post_form(admin, "/reports/add", {**good, "generated_at": "9999-12-31"})
    assert "不能" in response.get_data(as_text=True) and response.status_code == 200


def test_every_orm_write_is_checked_like_the_screen(app):
    from app.extensions import db
    from app.reports.shapes import SnapshotRefused

    with app.app_context():
        for report in (Report(report_type="revenue_by_industry", data={}),
                       Report(report_type="revenue_by_industry", data=revenue_snapshot(1.0),
                              generated_at=dt.datetime(9999, 12, 31)),
                       Report(report_type="nothing", data=revenue_snapshot(1.0))):
            db.session.add(report)
            with pytest.raises(SnapshotRefused):
                db.session.commit()
            db.session.rollback()
        db.session.add(Report(report_type="revenue_by_industry", data=revenue_snapshot(2.5)))
        db.session.commit()
        assert db.session.scalar(db.select(Report)).data["revenue"] == 2.5  # plain in memory
        db.session.remove()


# ---------------------------------------------------------------- money stays ciphertext
def test_canary_revenue_never_plaintext_in_any_column_or_dump_and_rotates(own_ring_app, sql, pg):  # noqa: F811
    app = own_ring_app
    from app.extensions import db

    with as_admin(app):  # a record is written by a user (row-level security)
        db.session.add_all([Customer(name="Canary Farm", industry="Canary breeding", revenue=Decimal(CANARY)),
                            Customer(name="Other", industry="Retail", revenue=Decimal("10.00"))])
        db.session.commit()
        db.session.remove()
    admin = app.test_client()
    assert login(admin).status_code == 302
    result = app.test_cli_runner().invoke(args=["crm", "reports", "generate"])
    assert result.exit_code == 0, result.output
    assert all(d not in result.output for d in CANARY_DIGITS)

    before = admin.get("/dashboard/").get_data(as_text=True)
    charts = page_charts(before)
    assert any(CANARY in json.dumps(c).replace(",", "") for c in charts)  # the dashboard shows it: the data is there
    everything = all_text_in_database(sql)
    assert "Canary Farm" in everything and "Canary breeding" in everything  # the scan did read the rows
    assert all(d not in everything for d in CANARY_DIGITS)
    dump = subprocess.run([bin_path("pg_dump"), "--data-only", pg.libpq(db_name(app))],
                          capture_output=True, text=True, check=True).stdout
    assert "Canary breeding" in dump and all(d not in dump for d in CANARY_DIGITS)

    def key_ids() -> set[int]:
        from app.reports.sealing import _envelope

        ids = set()
        for (data,) in sql("SELECT data FROM reports"):
            for text in json.dumps(data).split('"')[1::2]:
                if text.startswith("enc1:"):
                    ids.add(struct.unpack(">I", _envelope(text)[1:5])[0])
        return ids

    assert key_ids() == {1}
    rotated = app.test_cli_runner().invoke(args=["crm", "rotate-key"])
    assert rotated.exit_code == 0, rotated.output
    assert key_ids() == {2}
    pending = app.test_cli_runner().invoke(args=["crm", "rotate-key"])  # nothing left under key 1
    assert pending.exit_code == 0 and key_ids() == {3}
    facts = sql("SELECT DISTINCT get_byte(amount, 4) FROM dashboard_facts WHERE amount IS NOT NULL")
    assert facts == [(3,)]  # the dashboard's sealed sums too
    # the older keys retired: every figure still opens
    ring = Path(app.config["INSTANCE_DIR"]) / "keys" / "data-keys.json"
    kept = json.loads(ring.read_text())
    ring.write_text(json.dumps({"active": 3, "keys": {"3": kept["keys"]["3"]}}))
    charts = page_charts(admin.get("/dashboard/").get_data(as_text=True))
    assert any(CANARY in json.dumps(c).replace(",", "") for c in charts)
    assert charts == page_charts(before)
    assert SKIPPED not in admin.get("/dashboard/").get_data(as_text=True)
    assert all(d not in all_text_in_database(sql) for d in CANARY_DIGITS)


def test_canary_revenue_is_not_in_a_backup_file(crm):  # noqa: F811
    app, server = crm
    from app.extensions import db

    with as_admin(app):  # a record is written by a user (row-level security)
        db.session.add(Customer(name="Canary Farm", industry="Canary breeding", revenue=Decimal(CANARY)))
        db.session.commit()
        db.session.remove()
    assert crm_cli(app, "reports", "generate").exit_code == 0
    result = crm_cli(app, "backup", "full")
    assert result.exit_code == 0, result.output
    files = [p for p in (Path(app.config["INSTANCE_DIR"]) / "backups").rglob("*") if p.is_file()]
    assert files and sum(p.stat().st_size for p in files) > 100_000
    for path in files:
        content = path.read_bytes()
        assert all(d.encode() not in content for d in CANARY_DIGITS), path
    assert "Canary breeding" in server.psql("SELECT data::text FROM reports WHERE report_type = "
                                            "'revenue_by_industry'")
    logged = server.psql("SELECT description FROM logs") + server.psql("SELECT data::text FROM reports")
    assert all(d not in logged for d in CANARY_DIGITS)


# ---------------------------------------------------------------- the newcomer's path
def test_newcomer_path_demo_data_seed_generate_then_every_chart_page_answers(app, sql):
    """As `make run` prepares an instance (migrations, bootstrap, demo data), then seed and generate."""
    from app.ops.cli import migrate_and_bootstrap

    app.config["DEMO_DATA"] = True
    with app.app_context():
        migrate_and_bootstrap(app)
    # the demo snapshots come from the generators: one of each type, of the documented shape
    assert sorted(t for (t,) in sql("SELECT report_type FROM reports")) == sorted(TYPES)
    roles = ["Admin"] + [role for role, table in DEFAULT_ROLES.items()
                         if "read" in table.get("dashboard", table.get("*", ()))]
    assert roles == ["Admin", "Sales Manager", "Sales Rep", "Auditor"]

    def every_page_for_every_role() -> None:
        for role in roles:
            client = app.test_client()
            response = login(client) if role == "Admin" else login(client, role.lower().replace(" ", "_"), ROLE_PASSWORD)
            assert response.status_code == 302, role
            for lang in ("en", "zh"):
                switch_language(client, lang)
                found = pages(client)
                assert SKIPPED not in found["/dashboard/"] and SKIPPED_ZH not in found["/dashboard/"], role
                assert all(n >= 1 for n in charts_per_type(found["/dashboard/"]).values()), (role, lang)

    for role in roles:
        if role != "Admin":
            make_role_user(app, role)
    every_page_for_every_role()

    seeded = app.test_cli_runner().invoke(args=["crm", "seed", "--scale", "0.001"])
    assert seeded.exit_code == 0, seeded.output
    generated = app.test_cli_runner().invoke(args=["crm", "reports", "generate"])
    assert generated.exit_code == 0, generated.output
    assert sql("SELECT count(*) FROM reports") == [(2 * len(TYPES),)]
    every_page_for_every_role()
