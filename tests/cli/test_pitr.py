"""Point-in-time recovery from archived WAL, the archive's state, small incrementals and the mirror
(issue 22), on a real embedded PostgreSQL 18."""
from __future__ import annotations

import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.backup import wal
from app.scheduler import health as scheduler_health
from app.backup.catalog import Catalog
from app.backup.server import throwaway_server
from app.backup.settings import settings_from_config
from app.extensions import db
from app.ops.embedded_db import EmbeddedPostgres, bin_path
from tests.support.cli import crm, crm_cli  # noqa: F401  (fixture)


def archiving(app, monkeypatch, mirror: Path):
    """Settings with a mirror and a 2 s archive_timeout, archiving switched on (a restart)."""
    monkeypatch.setenv("CRM_BACKUP_MIRROR_DIR", str(mirror))
    monkeypatch.setenv("CRM_WAL_ARCHIVE_TIMEOUT", "2")
    settings = settings_from_config(app.config, progress=False)
    assert "WAL archiving on" in wal.setup_archiving(settings, restart=True)
    with app.app_context():
        db.engine.dispose()  # the restart closed the pool's connections
    return settings


def insert(server: EmbeddedPostgres, name: str) -> str:
    """Insert a customer; returns the WAL file its commit went into."""
    return server.psql(f"INSERT INTO customers (name) VALUES ('{name}');"
                       "SELECT pg_walfile_name(pg_current_wal_insert_lsn())").strip()


def wait_archived(settings, segment: str, timeout: float = 60) -> float:
    """Seconds until `segment` is in the archive (archive_timeout closes it: nobody forces a switch)."""
    started = time.monotonic()
    while segment not in wal.archived(wal.archive_dirs(settings)[0]):
        assert time.monotonic() - started < timeout, f"{segment} not archived in {timeout} s"
        time.sleep(0.2)
    return time.monotonic() - started


def names_in(target: Path) -> set[str]:
    with throwaway_server(target) as env:
        result = subprocess.run([bin_path("psql"), "-X", "-At", "-d", "crm", "-c", "SELECT name FROM customers"],
                                env=env, check=True, capture_output=True, text=True)
    return set(result.stdout.splitlines())


def test_restore_to_a_second_between_two_rows_archive_status_and_the_mirror(crm, tmp_path, monkeypatch):
    """One instance for the whole story (a CRM of its own costs a migration and the demo data)."""
    app, server = crm
    off = wal.archive_status(settings_from_config(app.config, progress=False))
    assert off == {"window_start": None, "window_end": None, "lag_seconds": None, "ok": False,
                   "reason": "WAL archiving is off"}
    settings = archiving(app, monkeypatch, tmp_path / "mirror")
    no_base = wal.archive_status(settings)
    # a segment switched just now may still wait a moment for the archiver: a lag, but within the limit
    assert not no_base["ok"] and 0 <= no_base["lag_seconds"] < wal.LAG_LIMIT and "crm backup full" in no_base["reason"]
    full = crm_cli(app, "backup", "full")
    assert full.exit_code == 0 and "Copied to the mirror" in full.output, full.output

    # an incremental after a small change carries the change, not the cluster (issue 22, point 3)
    insert(server, "small change")
    incremental = crm_cli(app, "backup", "incremental")
    assert incremental.exit_code == 0, incremental.output
    catalog = Catalog(settings.catalog.root)
    newest = catalog.get("latest")
    assert newest.kind == "incremental" and newest.size < 1_000_000 < catalog.get(newest.parent).size / 4

    # the recovery point objective: a committed row reaches the archive by archive_timeout alone
    rpo = wait_archived(settings, insert(server, "before the mistake"))
    assert rpo < 60
    print(f"RPO measured: {rpo:.1f} s (archive_timeout 2 s)")
    time.sleep(1.1)
    between = datetime.now(timezone.utc).replace(microsecond=0)
    time.sleep(1.1)
    wait_archived(settings, insert(server, "the mistake"))

    status = wal.archive_status(settings)
    assert status["ok"] and 0 <= status["lag_seconds"] < 60, status
    assert status["window_start"] <= between < status["window_end"]
    listing = crm_cli(app, "backup", "list").output
    assert f"Point-in-time recovery window: {status['window_start']:%Y-%m-%d %H:%M:%S} .. " in listing

    stamp = f"{between:%Y-%m-%d %H:%M:%S}"
    restored = crm_cli(app, "restore", "latest", "--to-time", stamp, "--target", str(tmp_path / "pitr"))
    assert restored.exit_code == 0, restored.output
    assert newest.id in restored.output  # the base: the newest backup finished before that second
    names = names_in(tmp_path / "pitr")
    assert {"small change", "before the mistake"} <= names and "the mistake" not in names

    too_late = (status["window_end"] + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    refused = crm_cli(app, "restore", "latest", "--to-time", too_late, "--target", str(tmp_path / "never"))
    assert refused.exit_code != 0 and "is not recoverable yet" in refused.output
    bad = crm_cli(app, "restore", "latest", "--to-time", "yesterday", "--target", str(tmp_path / "never"))
    assert bad.exit_code != 0 and "YYYY-MM-DD HH:MM:SS" in bad.output
    assert not (tmp_path / "never").exists()

    # the archive dir refuses writes (a full disk, a lost share): finished segments wait in pg_wal
    archive = wal.archive_dirs(settings)[0]
    archive.chmod(0o500)
    try:
        server.psql("INSERT INTO customers (name) VALUES ('waiting'); SELECT pg_switch_wal()")
        time.sleep(2.5)
        monkeypatch.setattr(wal, "LAG_LIMIT", 1)
        monkeypatch.setattr(scheduler_health, "ARCHIVE_LAG_TTL", 0)  # /health reads the lag afresh each time
        lagging = wal.archive_status(settings)
        assert not lagging["ok"] and lagging["lag_seconds"] >= 1
        assert "lags" in lagging["reason"] and "archive_command failed" in lagging["reason"]
        health = app.test_client().get("/health")  # still 200: the app serves, the operator is told
        assert health.status_code == 200 and health.get_json()["status"] == "degraded"
        assert "wal-archive lagging" in health.get_json()["reasons"]
    finally:
        archive.chmod(0o700)
    server.psql("INSERT INTO customers (name) VALUES ('wake the archiver'); SELECT pg_switch_wal()")
    started = time.monotonic()
    while wal.archive_status(settings)["lag_seconds"] != 0:  # it catches up: nothing was lost
        assert time.monotonic() - started < 90
        time.sleep(0.5)
    assert "wal-archive lagging" not in app.test_client().get("/health").get_json().get("reasons", [])

    # the machine's backup disk is lost: the mirror has the backups and the WAL
    shutil.rmtree(settings.catalog.root)
    again = crm_cli(app, "restore", "latest", "--to-time", stamp, "--target", str(tmp_path / "from-mirror"))
    assert again.exit_code == 0, again.output
    names = names_in(tmp_path / "from-mirror")
    assert "before the mistake" in names and "the mistake" not in names
    plain = crm_cli(app, "restore", newest.id, "--target", str(tmp_path / "plain-from-mirror"))
    assert plain.exit_code == 0 and "restoring from the mirror" in plain.output, plain.output
    assert "small change" in names_in(tmp_path / "plain-from-mirror")


@pytest.mark.parametrize("text, expected", [("2026-12-05 14:03:00", "2026-12-05 14:03:00+00:00"),
                                            ("2026-12-05T22:03:00+08:00", "2026-12-05 14:03:00+00:00")])
def test_to_time_is_utc_unless_it_says_otherwise(text, expected):
    from app.backup.pitr import parse_time

    assert str(parse_time(text)) == expected
