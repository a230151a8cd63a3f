"""`crm status`, `crm scheduler run`, and a backup killed mid-way (issue 22)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.backup.catalog import PARTIAL, Catalog
from app.scheduler.catalog import jobs_for
from tests.support.cli import crm, crm_cli  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
FAR = "2100-01-01"


def test_status_shows_health_jobs_drill_backups_and_disk(app, sql, monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_BACKUP_DIR", str(tmp_path / "backups"))
    sql("INSERT INTO scheduled_jobs (name, next_due, last_started, last_finished, last_status, last_message, "
        "last_duration, last_size) VALUES ('backup-full', '2026-12-13 02:30', '2026-12-06 02:30', "
        "'2026-12-06 02:31', 'failed', '[Errno 28] No space left on device', 2.25, NULL)")
    result = crm_cli(app, "status")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("Health: degraded: backup-full failed")
    job_line = next(line for line in out.splitlines() if "backup-full" in line and "7 d" in line)
    assert job_line.startswith("!!")  # a failed job is marked
    for text in ("2026-12-06 02:30:00 UTC", "2.2 s", "failed", "No space left on device",
                 "2026-12-13 02:30:00 UTC"):
        assert text in job_line
    for job in jobs_for({}):
        assert job.name in out
    assert "never run" in out  # the jobs without a row yet
    for title in ("Jobs", "Last restore drill", "Backups", "Disk"):
        assert f"\n{title}\n" in out or out.startswith(title)
    assert "no restore drill yet" in out and str(tmp_path / "backups") in out
    assert "Warning above 90% used" in out
    assert "The scheduler is off on this server" in out  # the test app uses DATABASE_URL

    app.config["DISK_WARN_PERCENT"] = 0.001  # any disk is "full" now
    disk = crm_cli(app, "status").output.split("\nDisk\n", 1)[1]
    assert "\n!  " + str(app.config["INSTANCE_DIR"]) in disk  # "!" marks a warning


def test_scheduler_run_once_runs_what_is_due(app, sql):
    sql("INSERT INTO scheduled_jobs (name, next_due) SELECT name, :far FROM unnest(CAST(:names AS text[])) name",
        far=FAR, names=[j.name for j in jobs_for({}) if j.name != "reports"])
    sql("INSERT INTO scheduled_jobs (name, next_due) VALUES ('reports', now() AT TIME ZONE 'utc')")
    result = crm_cli(app, "scheduler", "run", "--once")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("reports: ok in ") and "snapshot(s) written" in result.output
    assert sql("SELECT count(*) FROM reports")[0][0] > 0
    assert crm_cli(app, "scheduler", "run", "--once").output.strip() == "no job due"


def _scheduler_process(instance: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CRM_BACKUP_DIR")}
    env.update(CRM_INSTANCE_DIR=str(instance))
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "run", "crm", "scheduler", "run", "--once"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def test_a_backup_killed_mid_way_lists_nothing_and_the_next_run_completes(crm):
    app, server = crm
    instance = Path(app.config["INSTANCE_DIR"])
    # enough data that the backup takes a while: it is killed while writing
    server.psql("CREATE TABLE filler AS SELECT g, md5(g::text) || repeat(md5((g * 7)::text), 12) AS t "
                "FROM generate_series(1, 150000) g")
    names = [j.name for j in jobs_for({})]
    server.psql("INSERT INTO scheduled_jobs (name, next_due) VALUES "
                + ", ".join(f"('{n}', '{'2000-01-01' if n == 'backup-full' else FAR}')" for n in names))
    catalog = Catalog(instance / "backups")
    proc = _scheduler_process(instance)
    try:
        deadline = time.monotonic() + 120
        written = None
        while time.monotonic() < deadline and proc.poll() is None:
            written = next((p for p in catalog.root.glob(PARTIAL + "*/data.tar.enc")
                            if p.stat().st_size > 2_000_000), None) if catalog.root.exists() else None
            if written:
                break
            time.sleep(0.01)
        assert written, f"no backup in progress to kill: {proc.poll()} {proc.stdout.read() if proc.poll() else ''}"
        os.killpg(proc.pid, signal.SIGKILL)  # the app and the tools it runs, as a power cut would
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert catalog.backups() == [] and catalog.good() == []  # the half backup is not listed
    assert list(catalog.root.glob(PARTIAL + "*"))  # ... though its files are still there
    assert server.psql("SELECT last_status FROM scheduled_jobs WHERE name = 'backup-full'").strip() == "running"

    result = crm_cli(app, "scheduler", "run", "--once")  # the next start
    assert result.exit_code == 0, result.output
    assert "backup-full: ok" in result.output and "restore-drill: ok" in result.output
    backup, = catalog.good()
    assert backup.kind == "full" and backup.verification["status"] == "passed"
    assert "public.filler" in backup.tables, sorted(backup.tables)  # the data written before the kill
    assert not list(catalog.root.glob(PARTIAL + "*"))  # the next backup cleared the leftovers
    finished = server.psql("SELECT last_status, next_due > now() AT TIME ZONE 'utc' FROM scheduled_jobs "
                           "WHERE name = 'backup-full'").strip()
    assert finished == "ok|t"


def test_status_disk_sizes_come_from_the_database_and_the_catalogue_not_a_walk(app, sql, monkeypatch, tmp_path):
    from app.backup.catalog import size_text
    from app.scheduler import status

    monkeypatch.setenv("CRM_BACKUP_DIR", str(tmp_path / "backups"))
    instance = Path(app.config["INSTANCE_DIR"])
    junk = instance / "status-test-sparse-file"
    with open(junk, "wb") as sparse:  # 10 GB that a walk over the directory would count
        sparse.truncate(10 * 1000**3)
    try:
        def disk_line() -> str:
            out = crm_cli(app, "status").output.split("\nDisk\n", 1)[1]
            return next(line for line in out.splitlines() if str(instance) in line)

        size_cell = disk_line().split(str(instance), 1)[1].split()[:2]
        assert size_cell == ["0", "B"], size_cell  # DATABASE_URL: the database is elsewhere, no backups yet
        monkeypatch.setattr(status, "archives_wal", lambda config: True)  # as the embedded server holds it
        (size,), = sql("SELECT pg_database_size(current_database())")
        assert size_text(size) in disk_line()
    finally:
        junk.unlink()
