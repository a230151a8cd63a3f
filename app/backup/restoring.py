"""Restoring backups: decrypt each backup of the chain, check it with pg_verifybackup and merge
it with pg_combinebackup into a startable data directory; a logical dump is decrypted for pg_restore."""
from __future__ import annotations

import shutil
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

from app.backup.catalog import Backup, Catalog, CatalogError
from app.backup.crypto import CHUNK, DecryptingReader, sha256_file
from app.backup.server import hand_to_server_account, make_traversable, run
from app.backup.settings import DATA_FILE, DUMP_FILE, BackupError, Settings, no_bar
from app.ops.embedded_db import bin_path


def check_files(backup: Backup) -> None:
    """Every file is there with the checksum recorded when it was written."""
    for name, meta in backup.files.items():
        path = backup.path / name
        if not path.exists():
            raise BackupError(f"backup {backup.id}: {name} is missing")
        if sha256_file(path) != meta["sha256"]:
            raise BackupError(f"backup {backup.id}: {name} is corrupted "
                              "(SHA-256 differs from the one recorded at backup time)")


def _extract(settings: Settings, backup: Backup, target: Path) -> None:
    target.mkdir(mode=0o700)
    with open(backup.path / DATA_FILE, "rb") as source:
        reader = DecryptingReader(source, settings.key, f"{backup.id}/{DATA_FILE}",
                                  compressed=backup.compression == "zlib")
        with tarfile.open(fileobj=reader, mode="r|") as archive:
            archive.extractall(target, filter="data")


def materialize(settings: Settings, backup: Backup, target: Path, scratch: Path,
                echo: Callable[[str], None] = print) -> list[Backup]:
    """Build a startable data directory for `backup` in `target`; returns the chain used."""
    if backup.method != "physical":
        raise BackupError(f"{backup.id} is a logical dump (pg_dump): restore it with pg_restore")
    try:
        chain = settings.catalog.chain(backup)
    except CatalogError as exc:
        raise BackupError(str(exc)) from exc
    parts = []
    for item in tqdm(chain, desc="decrypt + pg_verifybackup", unit="backup", disable=no_bar(settings)):
        check_files(item)
        part = scratch / item.id
        _extract(settings, item, part)
        try:
            run([bin_path("pg_verifybackup"), "--quiet", str(part)], what=f"pg_verifybackup of {item.id}")
        except RuntimeError as exc:
            raise BackupError(str(exc)) from exc
        parts.append(part)
    if len(parts) == 1:
        shutil.move(str(parts[0]), target)
    else:
        echo(f"pg_combinebackup: {' + '.join(b.id for b in chain)}")
        try:
            run([bin_path("pg_combinebackup"), *map(str, parts), "-o", str(target)],
                what="pg_combinebackup")
        except RuntimeError as exc:
            raise BackupError(str(exc)) from exc
    for part in parts:
        shutil.rmtree(part, ignore_errors=True)
    # the socket dir is the data dir: its lock file came along, naming a PID that may be reused
    for stale in [target / "postmaster.pid", *target.glob(".s.PGSQL.*.lock")]:
        stale.unlink(missing_ok=True)
    # Archive recovery, not crash recovery: at the end of the backup's WAL the server switches
    # to a new timeline, so PostgreSQL refuses an incremental that would mix the old history
    # with the restored one, and `backup auto` starts a new chain.
    (target / "recovery.signal").touch()
    with open(target / "postgresql.auto.conf", "a") as conf:
        # the WAL is inside the backup (pg_wal); an archive would be asked through this command
        conf.write("# crm restore: replay the backup's own pg_wal (no WAL archive), and accept\n"
                   "# connections only once recovery is over, so the app never meets a read-only database\n"
                   "restore_command = 'false'\nhot_standby = off\n")
    hand_to_server_account(target)
    return chain


@contextmanager
def scratch_dir(settings: Settings) -> Iterator[Path]:
    work = settings.catalog.ensure() / ".work"
    work.mkdir(mode=0o711, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="drill-", dir=work))
    path.chmod(0o711)
    make_traversable(path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def restore(settings: Settings, backup: Backup, target: Path, echo: Callable[[str], None] = print,
            catalog: Catalog | None = None) -> list[Backup]:
    """Rebuild `target` from the chain ending at `backup`, read from `catalog` (default: the backup dir)."""
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty; restore into a new or empty directory")
    if backup.method == "logical":
        check_files(backup)
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        dump = target / f"{backup.database}.dump"
        decrypt_to(settings, backup, DUMP_FILE, dump)
        # the search functions are LEAKPROOF (docs/security.md), which only a superuser may create
        echo(f"Wrote {dump} (pg_dump custom format). Load it as a superuser of the target server:\n"
             f"  pg_restore --clean --if-exists --no-owner -d \"$SUPERUSER_DATABASE_URL\" {dump}")
        return [backup]
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.rmdir()
    source = replace(settings, catalog=catalog) if catalog else settings
    with source.catalog.lock(shared=True), scratch_dir(settings) as scratch:
        return materialize(source, backup, target, scratch, echo)


def decrypt_to(settings: Settings, backup: Backup, name: str, out_path: Path) -> None:
    with open(backup.path / name, "rb") as source, open(out_path, "wb") as out:
        reader = DecryptingReader(source, settings.key, f"{backup.id}/{name}")
        while block := reader.read(CHUNK):
            out.write(block)


