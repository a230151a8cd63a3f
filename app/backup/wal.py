"""Continuous WAL archiving for point-in-time recovery: set-up, the archive's window, its lag, retention.

PostgreSQL's own `archive_command` (not `pg_receivewal`): the server hands over each finished WAL
segment and keeps it until the command succeeds, so nothing is lost while the app is down or the
backup disk is full, and no extra process has to be kept alive. `archive_timeout` closes a segment
after at most that many seconds of writes: the recovery point objective. Each file is compressed
and encrypted (app/backup/walcmd.py) into `<backup dir>/wal/`, and into the mirror's when set.
"""
from __future__ import annotations

import base64
import itertools
import logging
import os
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from app.backup.crypto import derive_key
from app.backup.server import make_traversable
from app.backup.settings import BackupError, Settings
from app.backup.walcmd import SUFFIX
from app.ops.embedded_db import SUPERUSER, chown_to, server_os_user
from app.ops.instance import ensure_dir

log = logging.getLogger(__name__)

WAL_DIR = "wal"
KEY_FILE = "wal-archive-key"
LAG_LIMIT = 300  # seconds: beyond this the archive is not keeping up (/health degraded)
SEGMENTS_PER_ID = 0x100  # 16 MB segments per 4 GB "log id", as in WAL file names
WALCMD = Path(__file__).with_name("walcmd.py")


def wal_key(settings: Settings) -> bytes:
    return derive_key(settings.key, "wal")


def archive_dirs(settings: Settings) -> list[Path]:
    """Where archived WAL lives: the backup dir's `wal/`, then the mirror's."""
    roots = [settings.catalog.root] + ([settings.mirror.root] if settings.mirror else [])
    return [root / WAL_DIR for root in roots]


def write_key_file(settings: Settings, directory: Path) -> Path:
    """The WAL sub-key in a file only the server's account reads (outside the data dir: not backed up)."""
    path = directory / KEY_FILE
    tmp = directory / (KEY_FILE + ".tmp")
    tmp.write_text(base64.b64encode(wal_key(settings)).decode())
    tmp.chmod(0o600)
    chown_to(tmp, server_os_user())
    tmp.replace(path)
    return path


def archive_python() -> str:
    """A Python the server's account can run, with `cryptography`: ours, else the system's
    (ours may live where that account cannot go, e.g. a pyenv under /root); CRM_WAL_PYTHON wins."""
    candidates = [os.environ.get("CRM_WAL_PYTHON"), sys.executable, shutil.which("python3"), "/usr/bin/python3"]
    for python in filter(None, candidates):
        try:
            probe = subprocess.run([python, "-c", "from cryptography.hazmat.primitives.ciphers.aead import AESGCM"],
                                   check=False, capture_output=True, user=server_os_user(), cwd="/")
        except OSError:  # not there, or not executable by that account
            continue
        if probe.returncode == 0:
            return python
    raise BackupError("no Python with `cryptography` that the database server's account can run for "
                      "archive_command: set CRM_WAL_PYTHON (docs/operations.md)")


def command(settings: Settings, verb: str, key_file: Path, first: str, second: str, python: str) -> str:
    """The shell command PostgreSQL runs (archive_command / restore_command)."""
    words = [python, str(WALCMD), verb, str(key_file)]
    return " ".join([*map(shlex.quote, words), first, second, *map(shlex.quote, map(str, archive_dirs(settings)))])


def prepare_archive(settings: Settings) -> Path:
    """Archive dirs writable by the server's account; returns the key file for archive_command."""
    user = server_os_user()
    for directory in archive_dirs(settings):
        ensure_dir(directory.parent).chmod(0o711)
        ensure_dir(directory).chmod(0o700)
        chown_to(directory, user)
        make_traversable(directory)
    return write_key_file(settings, ensure_dir(settings.instance_dir))


def setup_archiving(settings: Settings, restart: bool = False) -> str:
    """Turn on archiving for the running embedded server (ALTER SYSTEM); says what it did.

    archive_mode only changes at a restart: done when `restart` (we started the server just now),
    otherwise archiving starts at the server's next start.
    """
    server = settings.server
    if server is None or not server.is_running():
        return "no embedded server running: WAL archiving not set up"
    key_file = prepare_archive(settings)
    try:
        python = archive_python()
    except BackupError as exc:
        log.warning("%s", exc)
        return f"WAL archiving NOT set up: {exc}"
    push = command(settings, "push", key_file, "%p", "%f", python)
    wanted = {"archive_mode": "on", "archive_command": push,
              "archive_timeout": f"{settings.archive_timeout}s"}
    with psycopg.connect(_conninfo(settings), autocommit=True) as conn:
        current = {name: conn.execute(sql.SQL("SELECT current_setting({})").format(sql.Literal(name)))
                   .fetchone()[0] for name in wanted}
        current["archive_timeout"] = conn.execute(
            "SELECT setting || 's' FROM pg_settings WHERE name = 'archive_timeout'").fetchone()[0]
        changed = [name for name, value in wanted.items() if current[name] != value]
        for name in changed:
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(wanted[name])))
        if changed:
            conn.execute("SELECT pg_reload_conf()")
    if current["archive_mode"] != "on":
        if not restart:
            log.warning("WAL archiving is configured and starts at the next restart of the database")
            return "WAL archiving configured; it starts at the next restart of the database"
        server.stop()
        server.start()
        return "WAL archiving on (the database was restarted to enable archive_mode)"
    return "WAL archiving on" + (f" (updated {', '.join(changed)})" if changed else "")


def _conninfo(settings: Settings) -> str:
    if settings.server is None:
        return settings.database_url or ""
    env = settings.server.libpq_env(SUPERUSER, "postgres")
    return f"host={env['PGHOST']} user={SUPERUSER} dbname=postgres password={env['PGPASSWORD']}"


def segment_number(name: str) -> int:
    """A WAL file's position, whatever its timeline: log id * 256 + segment."""
    return int(name[8:16], 16) * SEGMENTS_PER_ID + int(name[16:24], 16)


def archived(directory: Path) -> dict[str, float]:
    """{WAL segment name: archive time (epoch)} in one archive dir (not history or partial files)."""
    if not directory.is_dir():
        return {}
    found = {}
    for path in directory.iterdir():
        name = path.name[:-len(SUFFIX)] if path.name.endswith(SUFFIX) else ""
        if len(name) == 24 and all(c in "0123456789ABCDEF" for c in name):
            found[name] = path.stat().st_mtime
    return found


def window(settings: Settings) -> tuple[datetime | None, datetime | None]:
    """The recoverable window: from the end of the oldest base backup the archive continues from,
    to the newest archived WAL (archive dirs merged: the mirror covers a lost primary)."""
    files: dict[str, float] = {}
    for directory in archive_dirs(settings):
        for name, mtime in archived(directory).items():
            files[name] = max(mtime, files.get(name, 0))
    if not files:
        return None, None
    numbers = sorted({segment_number(name) for name in files})
    first_unbroken = numbers[0]
    for before, after in itertools.pairwise(numbers):
        if after - before > 1:
            first_unbroken = after
    end = datetime.fromtimestamp(max(files.values()), timezone.utc).replace(microsecond=0)
    for backup in base_backups(settings):
        if backup.wal_start and backup.finished_at and segment_number(backup.wal_start) >= first_unbroken:
            return datetime.fromisoformat(backup.finished_at), end
    return None, end


def base_backups(settings: Settings) -> list:
    """Physical backups a point-in-time recovery can start from, oldest first (primary, then mirror)."""
    seen, found = set(), []
    for catalog in [settings.catalog] + ([settings.mirror] if settings.mirror else []):
        for backup in catalog.good():
            if backup.method == "physical" and backup.id not in seen:
                seen.add(backup.id)
                found.append(backup)
    return sorted(found, key=lambda b: (b.started_at, b.id))


def archive_lag(settings: Settings) -> tuple[float | None, str]:
    """Age in seconds of the oldest finished WAL segment not yet archived (0: none waiting), and why None."""
    try:
        with psycopg.connect(_conninfo(settings), autocommit=True, connect_timeout=5) as conn:
            mode, cmd = conn.execute("SELECT current_setting('archive_mode'), "
                                     "current_setting('archive_command')").fetchone()
            if mode == "off" or cmd in ("", "true"):  # "true": initdb's placeholder (embedded_db.py)
                return None, "WAL archiving is off"
            oldest, failed = conn.execute(
                "SELECT (SELECT extract(epoch FROM now() - min(modification)) FROM pg_ls_archive_statusdir() "
                "WHERE name LIKE '%.ready'), last_failed_wal IS NOT NULL AND "
                "(last_archived_time IS NULL OR last_failed_time > last_archived_time) FROM pg_stat_archiver"
            ).fetchone()
    except psycopg.Error as exc:
        return None, f"cannot read the archiver's state: {str(exc).strip().splitlines()[0]}"
    lag = float(oldest or 0)
    return lag, "the last archive_command failed (see the server log)" if failed else ""


def archive_status(settings: Settings) -> dict:
    """{window_start, window_end, lag_seconds, ok, reason}: for the operations page and /health."""
    start, end = window(settings)
    lag, reason = archive_lag(settings)
    if lag is not None and lag > LAG_LIMIT:
        reason = f"WAL archiving lags {lag:.0f} s (more than {LAG_LIMIT} s)" + (f"; {reason}" if reason else "")
    elif lag is not None and start is None and not reason:
        reason = "no base backup covered by the WAL archive yet: take `crm backup full`"
    ok = lag is not None and lag <= LAG_LIMIT and start is not None
    return {"window_start": start, "window_end": end, "lag_seconds": lag, "ok": ok, "reason": reason}


def prune_archive(settings: Settings) -> int:
    """Delete archived WAL older than every kept base backup needs; returns how many files went."""
    backups = [b for b in base_backups(settings) if b.wal_start]
    if not backups:
        return 0
    keep_from = min(segment_number(b.wal_start) for b in backups)
    deleted = 0
    for directory in archive_dirs(settings):
        for name in archived(directory):
            if segment_number(name) < keep_from:
                (directory / (name + SUFFIX)).unlink(missing_ok=True)
                deleted += 1
    return deleted
