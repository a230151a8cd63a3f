"""/operations/ (admins only), /health's degraded answers, and the backup faults they report (issue 22)."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from app.backup.catalog import Catalog
from app.scheduler.catalog import jobs_for
from app.scheduler.runner import Runner
from tests.support.cli import crm_cli
from tests.support.client import login, switch_language
from tests.support.users import ROLE_PASSWORD, make_role_user

FAR = dt.datetime(2100, 1, 1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def only_due(sql, *names: str) -> None:
    """Rows for every job of the catalogue, only `names` due now (the others far in the future)."""
    for job in jobs_for({}):
        sql("INSERT INTO scheduled_jobs (name, next_due) VALUES (:n, :d) "
            "ON CONFLICT (name) DO UPDATE SET next_due = excluded.next_due",
            n=job.name, d=now() - timedelta(seconds=1) if job.name in names else FAR)


def health(client) -> dict:
    response = client.get("/health")
    assert response.status_code == 200
    return response.get_json()


def test_operations_page_is_for_admins_and_shows_every_job(app, admin, sql):
    sql("INSERT INTO scheduled_jobs (name, next_due, last_started, last_finished, last_status, last_message, "
        "last_duration, last_size) VALUES ('backup-full', '2026-12-13 02:30', '2026-12-06 02:30', "
        "'2026-12-06 02:31', 'ok', '20261206T023000Z-full: full (physical), 55.1 MB', 61.5, 55100000)")
    page = admin.get("/operations/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    for name in ("backup-full", "backup-incremental", "restore-drill", "backup-retention", "logs-maintain",
                 "reports"):
        assert name in body
    assert "2026-12-06 02:30:00 UTC" in body and "61.5 s" in body and "55.1 MB" in body
    assert "2026-12-13 02:30:00 UTC" in body  # next run
    for section in ("Last restore drill", "Backups", "Disk"):
        assert section in body
    assert 'href="/operations/"' in admin.get("/").get_data(as_text=True)  # the Admin menu's entry


def test_operations_page_shows_recent_bulk_jobs_in_both_languages(app, admin, sql):
    """Open jobs and those ended in the last 3 days: who, what, progress, status, the error; older ones not."""
    sql("INSERT INTO bulk_jobs (user_id, screen, table_name, action, arguments, total, done, status, message, "
        "created_at, finished_at) SELECT user_id, v.screen, v.tbl, v.act, CAST(v.args AS jsonb), v.total, v.done, "
        "v.status, v.msg, now() - v.age, CASE WHEN v.status IN ('queued', 'running') THEN NULL "
        "ELSE now() - v.age END FROM users, (VALUES "
        "('CustomerView', 'customers', 'delete', '{}', 1000, 400, 'running', NULL, interval '1 minute'), "
        "('TicketView', 'service_tickets', 'set', '{\"field\": \"priority\"}', 900, 80, 'failed', "
        "'Stopped after 80 of 900 rows: boom', interval '1 day'), "
        "('CustomerView', 'customers', 'export', '{}', 777, 777, 'done', NULL, interval '10 days')) "
        "AS v(screen, tbl, act, args, total, done, status, msg, age) WHERE username = 'admin'")
    body = admin.get("/operations/").get_data(as_text=True)
    section = body.split("Bulk jobs", 1)[1].split("crm-ops-section", 1)[0]
    for text in ("admin", "Customers", "Delete", "400 of 1,000 rows", "Running", "Service tickets",
                 "Set Priority", "80 of 900 rows", "Failed", "Stopped after 80 of 900 rows: boom"):
        assert text in section, text
    assert "777" not in section  # ended ten days ago
    assert 'data-level="warn"' in section  # the failed job
    switch_language(admin, "zh")
    zh = admin.get("/operations/").get_data(as_text=True)
    assert "批量任务" in zh and "400 / 1,000 行" in zh and "进行中" in zh and "失败" in zh and "设置优先级" in zh
    out = crm_cli(app, "status").output.split("\nBulk jobs\n", 1)[1]
    assert "400 of 1,000 rows" in out and "Stopped after 80 of 900 rows: boom" in out
    failed = next(line for line in out.splitlines() if "boom" in line)
    assert failed.startswith("! ") and "admin" in failed and "Set Priority" in failed


@pytest.mark.parametrize("role", ["Auditor", "Sales Manager", "Sales Rep", "Support Agent"])
def test_operations_page_is_refused_to_other_roles(app, role):
    client = app.test_client()
    username = make_role_user(app, role)
    login(client, username, ROLE_PASSWORD)
    assert client.get("/operations/").status_code == 403
    assert 'href="/operations/"' not in client.get("/").get_data(as_text=True)


def test_health_is_degraded_with_reasons_for_a_failed_job_an_overdue_backup_and_a_failed_drill(client, sql):
    assert health(client) == {"status": "ok", "database": "ok"}
    old = now() - timedelta(days=2)
    sql("INSERT INTO scheduled_jobs (name, next_due, last_status, last_success, last_message) VALUES "
        "('backup-incremental', :due, 'ok', :old, 'x'), ('reports', :due, 'ok', :recent, 'x')",
        due=now(), old=old, recent=now())
    assert health(client)["reasons"] == ["backup-incremental overdue"]  # a day plus 6 hours without one
    sql("UPDATE scheduled_jobs SET last_success = :recent WHERE name = 'backup-incremental'", recent=now())
    assert health(client)["status"] == "ok"
    sql("INSERT INTO scheduled_jobs (name, next_due, last_status, last_message) VALUES "
        "('restore-drill', :due, 'failed', 'restore drill of X failed: /secret/path is corrupted')", due=now())
    body = health(client)
    assert body == {"status": "degraded", "database": "ok", "reasons": ["restore-drill failed"]}
    assert "secret" not in json.dumps(body)  # the reason, never the message
    sql("UPDATE scheduled_jobs SET last_status = 'failed' WHERE name = 'reports'")
    assert health(client)["reasons"] == ["restore-drill failed", "reports failed"]


def test_backup_directory_full_fails_the_job_cleanly_and_says_so(app, admin, sql, tmp_path, monkeypatch):
    """A small tmpfs as the backup directory, filled but for 64 kB: the scheduled backup fails, keeps
    nothing, the page and /health say so, and the app keeps serving. Freed, the next run passes (its
    drill needs room for a scratch cluster, hence 96 MB and not 1)."""
    small = tmp_path / "small-disk"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(small)], check=True)
    try:
        backups = small / "backups"
        monkeypatch.setenv("CRM_BACKUP_DIR", str(backups))
        backups.mkdir()
        with open(small / "filler", "wb") as filler:  # 64 kB left: less than a dump
            os.posix_fallocate(filler.fileno(), 0, shutil.disk_usage(small).free - 64 * 1024)
        only_due(sql, "backup-full")
        assert Runner(app, jobs_for(app.config)).run_once() == ["backup-full"]
        (status, message), = sql("SELECT last_status, last_message FROM scheduled_jobs WHERE name = 'backup-full'")
        assert status == "failed" and "No space left on device" in message, message
        assert Catalog(backups).backups() == []
        assert [p.name for p in backups.iterdir() if p.name.startswith(".partial")] == []  # nothing half-written
        assert health(admin) == {"status": "degraded", "database": "ok", "reasons": ["backup-full failed"]}
        page = admin.get("/operations/").get_data(as_text=True)
        assert "No space left on device" in page and "Health: degraded" in page
        assert admin.get("/customers/list/").status_code == 200  # still serving
        assert "backup failed" in sql("SELECT action FROM logs ORDER BY log_id DESC LIMIT 1")[0][0]

        (small / "filler").unlink()  # space again: the next run (due within the hour) succeeds
        only_due(sql, "backup-full")
        assert Runner(app, jobs_for(app.config)).run_once() == ["backup-full", "restore-drill", "backup-retention"]
        assert [r[0] for r in sql("SELECT last_status FROM scheduled_jobs WHERE name IN "
                                  "('backup-full', 'restore-drill', 'backup-retention')")] == ["ok"] * 3
        assert len(Catalog(backups).good()) == 1 and health(admin)["status"] == "ok"
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_a_corrupted_backup_fails_the_drill_shows_on_page_and_health_and_restore_refuses(
        app, admin, sql, tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_BACKUP_DIR", str(tmp_path / "backups"))
    only_due(sql, "backup-full")
    runner = Runner(app, jobs_for(app.config))
    assert runner.run_once() == ["backup-full", "restore-drill", "backup-retention"]
    catalog = Catalog(tmp_path / "backups")
    backup, = catalog.good()
    assert backup.verification["status"] == "passed"
    assert "passed" in admin.get("/operations/").get_data(as_text=True)

    dump = backup.path / "dump.enc"
    raw = bytearray(dump.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    dump.write_bytes(bytes(raw))
    backup.verification = None  # as if never drilled: the drill job drills the newest backup
    backup.save()
    only_due(sql, "restore-drill")
    assert runner.run_once() == ["restore-drill"]
    (status, message), = sql("SELECT last_status, last_message FROM scheduled_jobs WHERE name = 'restore-drill'")
    assert status == "failed" and "dump.enc is corrupted" in message
    assert health(admin)["reasons"] == ["restore-drill failed"]
    page = admin.get("/operations/").get_data(as_text=True)
    assert "dump.enc is corrupted" in page and 'data-level="bad"' in page
    refused = crm_cli(app, "restore", "latest", "--target", str(tmp_path / "restored"))
    assert refused.exit_code != 0 and "dump.enc is corrupted" in refused.output
    assert not (tmp_path / "restored").exists() or not any(Path(tmp_path / "restored").iterdir())


def test_a_section_and_a_health_check_are_one_line_each(app, admin, monkeypatch):
    """The extension points the point-in-time recovery status plugs into (status.SECTIONS, health.CHECKS)."""
    from app.scheduler import health as health_checks
    from app.scheduler import status

    def archive_status(settings) -> dict:
        return {"window_start": dt.datetime(2026, 12, 5, 14, 3), "window_end": dt.datetime(2026, 12, 6, 7, 0),
                "lag_seconds": 420, "ok": False}

    monkeypatch.setattr(status, "SECTIONS", [*status.SECTIONS,
                                             status.settings_section("Point-in-time recovery", archive_status)])
    monkeypatch.setattr(health_checks, "CHECKS", [*health_checks.CHECKS,
                                                  lambda app, now: ["archive lagging"]])
    page = admin.get("/operations/").get_data(as_text=True)
    assert "Point-in-time recovery" in page and "2026-12-05 14:03:00 UTC" in page and "420" in page
    assert "failing" in page
    assert health(admin) == {"status": "degraded", "database": "ok", "reasons": ["archive lagging"]}
