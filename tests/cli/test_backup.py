"""Backups on a real embedded PostgreSQL 18: full, incrementals, restore, drills (issue 8)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import make_url

from app.backup.catalog import Catalog
from app.backup.crypto import encrypt_bytes, load_key, sha256_file
from app.backup.server import throwaway_server
from app.ops.embedded_db import EmbeddedPostgres, bin_path
from tests.support.cli import crm, crm_cli  # noqa: F401  (fixture)


def dump(env: dict[str, str], database: str = "crm", *options: str) -> str:
    """pg_dump of the crm database, minus PG18's per-run random \\restrict token."""
    out = subprocess.run([bin_path("pg_dump"), "--no-password", *options, "-d", database], env=env, check=True,
                         capture_output=True, text=True).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


def restored_dump(app: Flask, backup_id: str, target: Path) -> str:
    result = crm_cli(app, "restore", backup_id, "--target", str(target))
    assert result.exit_code == 0, result.output
    assert (target / "PG_VERSION").exists() and stat.S_IMODE(target.stat().st_mode) == 0o700
    with throwaway_server(target) as env:
        return dump({**env, "PGUSER": "postgres"})


def backup_ids(output: str) -> str:
    return output.split("Backup ", 1)[1].split(":", 1)[0]


def backup_ok(app: Flask, kind: str) -> tuple[str, str]:
    result = crm_cli(app, "backup", kind)
    assert result.exit_code == 0, result.output
    return backup_ids(result.output), result.output


def change_then_dump(server: EmbeddedPostgres, statements: str) -> str:
    server.psql(statements)
    return dump(server.libpq_env())


def test_full_incrementals_restore_equal_source_and_corruption_fails_verify(crm, tmp_path, monkeypatch):
    app, server = crm
    full_id, output = backup_ok(app, "full")
    assert "full (physical)" in output

    after_first_changes = change_then_dump(server, "INSERT INTO customers (name, industry) VALUES "
                                           "('恢复测试 Ltd', 'retail'); UPDATE leads SET status = 'lost' "
                                           "WHERE lead_id % 3 = 0;")
    inc1, output = backup_ok(app, "incremental")
    assert f"on top of {full_id}" in output
    after_second_changes = change_then_dump(server, "DELETE FROM activities WHERE activity_id % 2 = 0;"
                                            "UPDATE customers SET location = 'moved' WHERE customer_id < 10;")
    inc2, output = backup_ok(app, "incremental")
    assert f"on top of {inc1}" in output
    assert after_first_changes != after_second_changes

    # restore the chain: the database equals the source at that point, for `latest` and a given ID
    assert restored_dump(app, "latest", tmp_path / "restored-latest") == after_second_changes
    assert restored_dump(app, inc1, tmp_path / "restored-inc1") == after_first_changes
    secrets = {p.name for p in Path(app.config["INSTANCE_DIR"]).iterdir() if p.is_file()}
    assert {"backup-key", "pg-postgres-password", "pg-crm_backup-password"} <= secrets
    assert not [p for p in (tmp_path / "restored-latest").rglob("*") if p.name in secrets]  # cluster only

    catalog = Catalog(Path(app.config["INSTANCE_DIR"]) / "backups")
    assert [b.id for b in catalog.chain(catalog.get(inc2))] == [full_id, inc1, inc2]
    for backup in catalog.good():  # encrypted at rest: no plaintext PostgreSQL file in the folder
        data = (backup.path / "data.tar.enc").read_bytes()
        assert b"PG_VERSION" not in data and b"backup_label" not in data
        assert stat.S_IMODE((backup.path / "data.tar.enc").stat().st_mode) == 0o600
    key_file = Path(app.config["INSTANCE_DIR"]) / "backup-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and catalog.root not in key_file.parents

    verified = crm_cli(app, "backup", "verify", inc2)
    assert verified.exit_code == 0, verified.output
    assert "pg_verifybackup: 3 backup(s) ok" in verified.output and "pg_amcheck ok" in verified.output
    assert "counts and content hashes match" in verified.output
    listing = crm_cli(app, "backup", "list").output
    assert f"Chain {full_id}: 3 backup(s)" in listing and "passed" in listing

    # a corrupted byte in the full backup: verify fails loudly and says which file
    data_file = catalog.root / full_id / "data.tar.enc"
    raw = bytearray(data_file.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data_file.write_bytes(bytes(raw))
    broken = crm_cli(app, "backup", "verify", "latest")
    assert broken.exit_code != 0
    assert "VERIFY FAILED" in broken.output and f"{full_id}: data.tar.enc is corrupted" in broken.output
    assert "failed" in crm_cli(app, "backup", "list").output
    # ... and also when the recorded checksum was rewritten to match: AES-GCM refuses the chunk
    meta = json.loads((catalog.root / full_id / "backup.json").read_text())
    meta["files"]["data.tar.enc"]["sha256"] = sha256_file(data_file)
    (catalog.root / full_id / "backup.json").write_text(json.dumps(meta))
    tampered = crm_cli(app, "backup", "verify", inc2)
    assert tampered.exit_code != 0 and "failed authentication" in tampered.output
    refused = crm_cli(app, "restore", "latest", "--target", str(tmp_path / "never"))
    assert refused.exit_code != 0 and "restore failed" in refused.output

    # every run left a logs entry
    actions = server.psql("SELECT action FROM logs WHERE action LIKE 'backup%' OR action LIKE 'restore%' "
                          "ORDER BY log_id").splitlines()
    assert actions.count("backup") == 3 and actions.count("restore") == 2
    logged = server.psql("SELECT count(*) FROM logs WHERE action = 'backup verify'")
    assert int(logged) == 3

    # retention: a new chain with keep=1 deletes the old chain whole, never just its full backup
    monkeypatch.setenv("CRM_BACKUP_KEEP", "1")
    newest = crm_cli(app, "backup", "full")
    assert newest.exit_code == 0, newest.output
    assert f"deleted {full_id}, {inc1}, {inc2}" in newest.output
    assert [b.id for b in catalog.good()] == [backup_ids(newest.output)]


def test_auto_picks_full_or_incremental_and_a_failed_backup_keeps_nothing(crm, tmp_path):
    app, server = crm
    nothing = crm_cli(app, "backup", "incremental")
    assert nothing.exit_code != 0 and "run `crm backup full` first" in nothing.output
    first = crm_cli(app, "backup", "auto")  # the cron command: a backup, then its restore drill
    assert first.exit_code == 0, first.output
    assert "full (physical)" in first.output and "no full backup yet" in first.output
    assert "restore drill passed" in first.output
    second = crm_cli(app, "backup", "auto", "--no-verify")
    assert second.exit_code == 0 and "incremental (physical)" in second.output, second.output
    catalog = Catalog(Path(app.config["INSTANCE_DIR"]) / "backups")
    week_old = catalog.get(backup_ids(first.output))
    week_old.started_at = (week_old.started - timedelta(days=8)).isoformat()
    week_old.save()
    third = crm_cli(app, "backup", "auto", "--no-verify")
    assert third.exit_code == 0 and "full (physical)" in third.output, third.output
    assert "last full backup is 8 days old" in third.output

    # the restore steps of docs/operations.md: restore, stop, swap the data dir, start; the next auto is a full one
    server.psql("INSERT INTO customers (name) VALUES ('lost with the old data dir')")
    restored = crm_cli(app, "restore", "latest", "--target", str(tmp_path / "restored"))
    assert restored.exit_code == 0, restored.output
    server.stop()
    server.pgdata.rename(tmp_path / "pgdata.broken")
    (tmp_path / "restored").rename(server.pgdata)
    server.start()
    assert server.psql("SELECT count(*) FROM customers WHERE name LIKE 'lost with%'").strip() == "0"
    after_restore = crm_cli(app, "backup", "auto", "--no-verify")
    assert after_restore.exit_code == 0, after_restore.output
    assert "full (physical)" in after_restore.output and "restored from a backup" in after_restore.output
    before = [b.id for b in catalog.backups()]

    # the latest backup's manifest now names another cluster: pg_basebackup refuses
    parent = catalog.get("latest")
    manifest = json.dumps({"PostgreSQL-Backup-Manifest-Version": 2, "System-Identifier": 1,
                           "Files": [], "WAL-Ranges": []}).encode()
    with open(parent.path / "manifest.enc", "wb") as out:
        encrypt_bytes(manifest, load_key(Path(app.config["INSTANCE_DIR"])), out)
    failed = crm_cli(app, "backup", "incremental")
    assert failed.exit_code != 0
    assert "backup failed, nothing was kept" in failed.output and "pg_basebackup failed" in failed.output
    assert [b.id for b in catalog.backups()] == before
    assert sorted(p.name for p in catalog.root.iterdir() if not p.name.startswith(".")) == sorted(before)
    assert "backup failed" in server.psql("SELECT action FROM logs ORDER BY log_id DESC LIMIT 1")


def test_external_server_falls_back_to_logical_dumps(app, pg, sql, tmp_path, monkeypatch):
    """With DATABASE_URL the same commands take pg_dump backups, say so, and drill them."""
    monkeypatch.setenv("CRM_BACKUP_DIR", str(tmp_path / "dumps"))
    sql("INSERT INTO customers (name, industry) VALUES ('Logical 逻辑 Co', 'retail')")
    full = crm_cli(app, "backup", "full")
    assert full.exit_code == 0, full.output
    assert "logical dump with pg_dump" in full.output and "full (logical)" in full.output
    database = make_url(app.config["DATABASE_URL"]).database
    env = {"PGPASSWORD": pg.owner_password()}
    at_backup_time = dump({**pg_env(pg, database), **env}, database, "--data-only", "--no-owner")
    incremental = crm_cli(app, "backup", "incremental")
    assert incremental.exit_code == 0 and "taking a full logical dump (pg_dump) instead" in incremental.output
    assert crm_cli(app, "backup", "list").output.count("Chain ") == 2

    verified = crm_cli(app, "backup", "verify")
    assert verified.exit_code == 0, verified.output
    assert "pg_restore into a fresh cluster ok" in verified.output
    assert "counts and content hashes match" in verified.output

    unknown = crm_cli(app, "backup", "verify", "nope")
    assert unknown.exit_code != 0 and "no backup 'nope'" in unknown.output
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    occupied = crm_cli(app, "restore", "latest", "--target", str(tmp_path / "busy"))
    assert occupied.exit_code != 0 and "is not empty" in occupied.output
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"
    restored = crm_cli(app, "restore", "latest", "--target", str(tmp_path / "out"))
    assert restored.exit_code == 0, restored.output
    dump_file = tmp_path / "out" / f"{database}.dump"
    copy = f"{database}_restored"
    pg.create_database(copy)
    try:
        # as the superuser, as `crm restore` says: the dump holds LEAKPROOF search functions
        subprocess.run([bin_path("pg_restore"), "--no-owner", "--exit-on-error", "-d",
                        pg.libpq(copy), str(dump_file)], check=True, capture_output=True)
        superuser = {"PGUSER": pg.admin_url.username, "PGPASSWORD": pg.admin_url.password}
        restored_data = dump({**pg_env(pg, copy), **superuser}, copy, "--data-only", "--no-owner")
    finally:
        pg.drop_database(copy)
    # data compared: a reloaded schema may spell CHECK expressions differently
    # the same rows; pg_dump may order the teams/users pair (a foreign key each way) differently
    assert sorted(restored_data.splitlines()) == sorted(at_backup_time.splitlines())
    assert "Logical 逻辑 Co" in restored_data


def pg_env(pg, database: str) -> dict[str, str]:
    url = make_url(pg.url(database))
    host = url.query.get("host") or url.host
    return {**os.environ, "PGHOST": str(host), "PGPORT": str(url.port or 5432), "PGUSER": url.username,
            "PGDATABASE": database, "PGPASSWORD": url.password}
