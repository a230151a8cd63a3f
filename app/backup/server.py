"""Throwaway PostgreSQL servers for restore drills: a scratch data dir, its own socket dir, no TCP."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from app.ops.embedded_db import SUPERUSER, chown_to, server_os_user, bin_path, wait_until_accepting


def hand_to_server_account(path: Path) -> None:
    """The data dir belongs to the account the server runs as (embedded_postgres when root)."""
    user = server_os_user()
    path.chmod(0o700)
    if user:
        for root, dirs, files in os.walk(path):
            chown_to(Path(root), user)
            for name in files:
                chown_to(Path(root) / name, user)


def make_traversable(path: Path) -> None:
    """The server account may pass through (not list) every parent of `path` (when root)."""
    if not server_os_user():
        return
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


def run(args: list[str], *, as_server: bool = False, env: dict | None = None,
        what: str | None = None) -> str:
    """Run a PostgreSQL tool; a failure raises RuntimeError with the tool's own message."""
    result = subprocess.run(args, capture_output=True, text=True, env=env,
                            user=server_os_user() if as_server else None)
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip()
        raise RuntimeError(f"{what or Path(args[0]).name} failed: {message}")
    return result.stdout


@contextmanager
def throwaway_server(pgdata: Path, log_dir: Path | None = None) -> Iterator[dict[str, str]]:
    """Start a server on `pgdata` (trust auth on a private socket dir); yields libpq env.
    Its log goes beside `pgdata`, or into `log_dir`."""
    socket_dir = Path(tempfile.mkdtemp(prefix="crm-drill-"))  # short path: sockets max 107 bytes
    hba = socket_dir / "pg_hba.conf"
    # Only processes that can enter the 0700 socket dir (root, the server account) can connect.
    hba.write_text("local all all trust\n")
    hand_to_server_account(socket_dir)
    options = (f"-c listen_addresses='' -c unix_socket_directories='{socket_dir}' "
               f"-c hba_file='{hba}' -c summarize_wal=off -c shared_buffers=32MB "
               "-c archive_mode=off -c logging_collector=off")
    log_file = (log_dir or pgdata.parent) / f"{pgdata.name}.log"
    user = server_os_user()
    log_file.touch()
    chown_to(log_file, user)
    try:
        try:
            run([bin_path("pg_ctl"), "-D", str(pgdata), "-w", "-t", "300", "-l", str(log_file),
                 "-o", options, "start"], as_server=True, what="starting the drill server")
        except RuntimeError as exc:
            tail = log_file.read_text()[-2000:] if log_file.exists() else ""
            raise RuntimeError(f"{exc}\n{tail}") from exc
        try:
            wait_until_accepting(socket_dir, pgdata=pgdata)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log_file.read_text()[-2000:]}") from exc
        yield {**os.environ, "PGHOST": str(socket_dir), "PGUSER": SUPERUSER, "PGDATABASE": "postgres"}
    finally:
        subprocess.run([bin_path("pg_ctl"), "-D", str(pgdata), "-w", "-m", "immediate", "stop"],
                       capture_output=True, user=user)
        shutil.rmtree(socket_dir, ignore_errors=True)


def conninfo(env: dict[str, str], database: str) -> str:
    return f"host={env['PGHOST']} user={env['PGUSER']} dbname={database}"
