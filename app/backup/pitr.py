"""Point-in-time recovery: a base backup chain, then the archived WAL replayed up to a given second.

The recovery runs here, in a private server on the target, not at the operator's next start: the
command ends with a data directory that is as it was at that second, promoted and shut down
cleanly, or fails saying why (a time outside the window, a WAL file missing or corrupted).
"""
from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import psycopg

from app.backup.catalog import Backup, Catalog, CatalogError
from app.backup.restoring import materialize, scratch_dir
from app.backup.server import conninfo, throwaway_server
from app.backup.settings import BackupError, Settings
from app.backup.wal import archive_python, base_backups, command, window, write_key_file
from app.ops.embedded_db import bin_path, server_os_user

TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")


def parse_time(text: str) -> datetime:
    """'YYYY-MM-DD HH:MM:SS' in UTC (an explicit offset such as +08:00 is honoured)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        for fmt in TIME_FORMATS:
            try:
                when = datetime.strptime(text.strip(), fmt)
                break
            except ValueError:
                continue
        else:
            raise BackupError(f"--to-time {text!r}: expected \"YYYY-MM-DD HH:MM:SS\" (UTC)") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def choose_base(settings: Settings, backup_id: str, when: datetime) -> Backup:
    """The given backup, or for `latest` the newest one that finished before `when`."""
    candidates = [b for b in base_backups(settings) if b.finished_at and b.wal_start]
    if backup_id != "latest":
        chosen = next((b for b in candidates if b.id == backup_id), None)
        if chosen is None:
            raise BackupError(f"no physical backup {backup_id!r} with WAL position (see `crm backup list`)")
        if datetime.fromisoformat(chosen.finished_at) > when:
            raise BackupError(f"{backup_id} finished at {chosen.finished_at}, after {when:%Y-%m-%d %H:%M:%S}")
        return chosen
    before = [b for b in candidates if datetime.fromisoformat(b.finished_at) <= when]
    if not before:
        raise BackupError(f"no base backup finished before {when:%Y-%m-%d %H:%M:%S} UTC")
    return before[-1]


def restore_to_time(settings: Settings, backup_id: str, when: datetime, target: Path,
                    echo: Callable[[str], None] = print) -> tuple[list[Backup], str]:
    """Rebuild `target` as the database was at `when`; returns the chain and the last replayed commit."""
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty; restore into a new or empty directory")
    start, end = window(settings)
    if end is None:
        raise BackupError("no archived WAL: point-in-time recovery needs WAL archiving (docs/operations.md)")
    if when > end:
        raise BackupError(f"the archived WAL ends at {end:%Y-%m-%d %H:%M:%S} UTC: {when:%Y-%m-%d %H:%M:%S} "
                          f"is not recoverable yet (window {_span(start, end)})")
    base = choose_base(settings, backup_id, when)
    catalog = _catalog_of(settings, base)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.rmdir()
    with catalog.lock(shared=True), scratch_dir(settings) as scratch:
        chain = materialize(replace(settings, catalog=catalog), base, target, scratch, echo)
        echo(f"Replaying archived WAL from {base.id} to {when:%Y-%m-%d %H:%M:%S} UTC")
        conf = target / "postgresql.auto.conf"
        before = conf.stat().st_size
        fetch = command(settings, "fetch", write_key_file(settings, scratch), "%f", "%p", archive_python())
        with open(conf, "a") as out:
            out.write(f"restore_command = '{_escape(fetch)}'\n"
                      f"recovery_target_time = '{when.isoformat(sep=' ')}'\n"
                      "recovery_target_action = 'promote'\nrecovery_target_timeline = 'latest'\n")
        try:
            replayed = _recover(target, scratch)
        except RuntimeError as exc:
            raise BackupError(_explain(str(exc), when)) from exc
        finally:
            with open(conf, "r+") as out:  # the fetch command names a key file that is gone now
                out.truncate(before)
    return chain, replayed


def _recover(target: Path, scratch: Path) -> str:
    with throwaway_server(target, log_dir=scratch) as env:
        with psycopg.connect(conninfo(env, "postgres"), autocommit=True) as conn:
            in_recovery, replayed = conn.execute(
                "SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp()").fetchone()
        if in_recovery:
            raise RuntimeError("the server is still in recovery")
        subprocess.run([bin_path("pg_ctl"), "-D", str(target), "-w", "-m", "fast", "stop"],
                       check=True, capture_output=True, user=server_os_user())
    return f"{replayed:%Y-%m-%d %H:%M:%S.%f} UTC" if replayed else "none (no transaction after the backup)"


def _explain(error: str, when: datetime) -> str:
    if "recovery ended before configured recovery target was reached" in error:
        return (f"the archived WAL ends before {when:%Y-%m-%d %H:%M:%S}: a WAL file is missing "
                "from the archive (see `crm backup list`)")
    if "before consistent recovery point" in error:
        return f"{when:%Y-%m-%d %H:%M:%S} is before the base backup became consistent: pick a later time"
    return error


def _catalog_of(settings: Settings, backup: Backup) -> Catalog:
    """The catalog holding the backup: the primary, else the mirror (the primary was lost)."""
    for catalog in [settings.catalog] + ([settings.mirror] if settings.mirror else []):
        try:
            catalog.get(backup.id)
            return catalog
        except CatalogError:
            continue
    raise BackupError(f"backup {backup.id} is in no catalog")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "''")


def _span(start: datetime | None, end: datetime | None) -> str:
    fmt = "%Y-%m-%d %H:%M:%S"
    return f"{start:{fmt}} .. {end:{fmt}} UTC" if start and end else "empty"
