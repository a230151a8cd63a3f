"""Restore drills: a backup is restored into a throwaway server, checked and compared with its record."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from app.backup.catalog import Backup, utcnow
from app.backup.restoring import check_files, decrypt_to, materialize, scratch_dir
from app.backup.server import conninfo, hand_to_server_account, run, throwaway_server
from app.backup.settings import DUMP_FILE, BackupError, Settings
from app.backup.snapshot import consistent_stats, differences
from app.ops.embedded_db import DATABASE, SUPERUSER, bin_path


def verify(settings: Settings, backup: Backup, echo: Callable[[str], None] = print) -> dict:
    """pg_verifybackup + a restore drill; records the result on the backup and returns it."""
    checks: list[str] = []
    try:
        with settings.catalog.lock(shared=True), scratch_dir(settings) as scratch:
            data = scratch / "pgdata"
            if backup.method == "physical":
                chain = materialize(settings, backup, data, scratch, echo)
                checks.append(f"pg_verifybackup: {len(chain)} backup(s) ok; pg_combinebackup ok")
            else:
                check_files(backup)
                _logical_drill_cluster(settings, backup, data, scratch)
                checks.append("pg_restore into a fresh cluster ok")
            with throwaway_server(data) as env:
                echo("Drill server started; running pg_amcheck and comparing tables")
                try:
                    run([bin_path("pg_amcheck"), "--all", "--install-missing", "--no-password"],
                        env=env, what="pg_amcheck")
                except RuntimeError as exc:
                    raise BackupError(str(exc)) from exc
                checks.append("pg_amcheck ok")
                restored = consistent_stats(conninfo(env, backup.database or DATABASE))
        skip = set(backup.tables_changed_during_backup)
        problems = differences(backup.tables, restored, skip)
        if problems:
            raise BackupError("restored data differs from the backup's record: " + "; ".join(problems))
        rows = sum(t["rows"] for t in restored.values())
        checks.append(f"{len(restored) - len(skip & set(restored))} tables, {rows} rows: "
                      "counts and content hashes match")
        if skip:
            checks.append("changed while the backup ran (not compared): " + ", ".join(sorted(skip)))
        result = {"status": "passed", "at": utcnow().isoformat(), "detail": checks}
    except Exception as exc:  # whatever broke (checksum, key, tar, a tool), the drill failed
        reason = str(exc) if isinstance(exc, (BackupError, RuntimeError)) else f"{type(exc).__name__}: {exc}"
        result = {"status": "failed", "at": utcnow().isoformat(), "detail": checks + [reason]}
    if backup.path.exists():
        backup.verification = result
        backup.save()
    return result


def _logical_drill_cluster(settings: Settings, backup: Backup, data: Path, scratch: Path) -> None:
    """A fresh cluster in `data` with the dump restored into it."""
    data.mkdir(mode=0o700)
    hand_to_server_account(data)
    run([bin_path("initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
         "--locale=C.UTF-8"], as_server=True, what="initdb")
    dump = scratch / "dump"
    decrypt_to(settings, backup, DUMP_FILE, dump)
    with throwaway_server(data) as env:
        run([bin_path("createdb"), backup.database], env=env, what="createdb")
        run([bin_path("pg_restore"), "--no-owner", "--no-acl", "--exit-on-error", "-d", backup.database,
             str(dump)], env=env, what="pg_restore")
