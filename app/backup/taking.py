"""Taking backups with PostgreSQL's own tools, encrypted on the fly.

Physical (the embedded server): `pg_basebackup -Ft -D -` streams one tar with
its WAL and backup manifest; we encrypt it on the fly, so no plaintext copy of
the database ever lands in the backup folder. Incrementals use PostgreSQL 17+
`--incremental` against the parent's manifest (WAL summaries: only changed blocks). The tar is
zlib-compressed before encryption: each backup carries a 16 MB WAL segment, mostly zeros, and
free-space maps sent whole, which made a small incremental weigh 23 MB (docs/operations.md). Logical (an external server,
DATABASE_URL): `pg_dump -Fc`, one chain per dump.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

import psycopg
from sqlalchemy.engine import make_url
from tqdm import tqdm

from app.backup.catalog import GOOD, PARTIAL, Backup, utcnow
from app.backup.crypto import (CHUNK, CompressingWriter, EncryptingWriter, decrypt_file, encrypt_bytes, key_id,
                               sha256_file)
from app.backup.mirror import copy_backup
from app.backup.settings import (DATA_FILE, DUMP_FILE, MANIFEST_FILE, BackupError, MirrorError, Settings,
                                 no_bar)
from app.backup.snapshot import table_stats
from app.ops.embedded_db import DATABASE, EmbeddedPostgres, bin_path

BACKUP_ROLE = "crm_backup"
FULL_EVERY_DAYS = 7


def ensure_backup_role(server: EmbeddedPostgres) -> dict[str, str]:
    """A login role with REPLICATION and read access only; returns its libpq env.

    BYPASSRLS: the row counts and hashes recorded for the drill must see every row, which
    the row-level policies (migration 0026) would otherwise hide from a role with no user.
    """
    password = server.password(BACKUP_ROLE).replace("'", "''")
    server.psql(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{BACKUP_ROLE}') THEN "
        f"CREATE ROLE {BACKUP_ROLE} LOGIN REPLICATION; END IF; END $$;"
        f"ALTER ROLE {BACKUP_ROLE} LOGIN REPLICATION BYPASSRLS NOSUPERUSER PASSWORD '{password}';"
        f"GRANT pg_read_all_data TO {BACKUP_ROLE};"
        f"GRANT CONNECT ON DATABASE {DATABASE} TO {BACKUP_ROLE};", database="postgres")
    return server.libpq_env(BACKUP_ROLE, DATABASE)


def _libpq(env: dict[str, str]) -> str:
    return f"host={env['PGHOST']} user={env['PGUSER']} dbname={env['PGDATABASE']} password={env['PGPASSWORD']}"


class _Tee:
    """Reads the tool's stdout, encrypting everything that passes through."""

    def __init__(self, source, writer: CompressingWriter, bar: tqdm) -> None:
        self.source, self.writer, self.bar, self.plain_bytes = source, writer, bar, 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size if size and size > 0 else CHUNK)
        if data:
            self.writer.write(data)
            self.bar.update(len(data))
            self.plain_bytes += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def _bar(settings: Settings, total: int | None, desc: str) -> tqdm:
    return tqdm(total=total, unit="B", unit_scale=True, desc=desc, disable=no_bar(settings),
                leave=True, dynamic_ncols=True)


def take_backup(settings: Settings, kind: str, echo: Callable[[str], None] = print) -> Backup:
    """Take a full or incremental backup; only a complete one is ever renamed into the catalog."""
    catalog = settings.catalog
    with catalog.lock():
        parent: Backup | None = None
        if kind == "incremental":
            if settings.method == "logical":
                echo("External server: incremental backups need a physical backup; "
                     "taking a full logical dump (pg_dump) instead.")
                kind = "full"
            else:
                physical = [b for b in catalog.good() if b.method == "physical"]
                if not physical:
                    raise BackupError("no backup to build an incremental on: run `crm backup full` first")
                parent = physical[-1]
        echo(f"Taking {'an' if kind == 'incremental' else 'a'} {kind} {settings.method} backup "
             f"into {catalog.root}")
        backup = Backup(id=catalog.new_id(kind), kind=kind, method=settings.method,
                        parent=parent.id if parent else None, started_at=utcnow().isoformat(),
                        key_id=key_id(settings.key), database=DATABASE)
        partial = catalog.root / f"{PARTIAL}{backup.id}"
        partial.mkdir(mode=0o700)
        try:
            if settings.method == "physical":
                _physical(settings, backup, parent, partial)
            else:
                _logical(settings, backup, partial)
            backup.files = {p.name: {"sha256": sha256_file(p), "size": p.stat().st_size}
                            for p in sorted(partial.iterdir()) if p.name.endswith(".enc")}
            backup.size = sum(f["size"] for f in backup.files.values())
            backup.finished_at, backup.status = utcnow().isoformat(), GOOD
            backup.save(partial)
            for path in partial.iterdir():
                path.chmod(0o600)
            final = catalog.root / backup.id
            os.rename(partial, final)  # the one step that makes a backup visible
            backup.path = final
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        if settings.mirror:
            try:
                copy_backup(settings, backup)
            except (OSError, BackupError) as exc:
                raise MirrorError(f"backup {backup.id} is kept in {catalog.root}, but its copy to the mirror "
                                  f"{settings.mirror.root} failed: {exc}") from exc
            echo(f"Copied to the mirror {settings.mirror.root} (SHA-256 checked)")
        return backup


def _physical(settings: Settings, backup: Backup, parent: Backup | None, work: Path) -> None:
    server = settings.server
    if not server.is_running():
        raise BackupError(f"the embedded PostgreSQL in {server.pgdata} is not running")
    env = ensure_backup_role(server)
    with psycopg.connect(_libpq(env), autocommit=True) as conn:
        backup.server_version = conn.execute("SHOW server_version").fetchone()[0]
        # WAL written during the backup must survive until pg_basebackup fetches it at the end:
        # a temporary slot (dropped with this session) pins it from here on.
        conn.execute("SELECT pg_create_physical_replication_slot(%s, true, true)",
                     (f"crm_backup_{os.getpid()}",))
        before = table_stats_in_snapshot(conn)
        total = conn.execute("SELECT sum(pg_database_size(oid))::bigint FROM pg_database").fetchone()[0]
        args = [bin_path("pg_basebackup"), "-Ft", "-D", "-", "-X", "fetch", "--checkpoint=fast",
                "--manifest-checksums=SHA256", "--no-password", f"--label=crm {backup.id}"]
        parent_manifest = work / "parent_manifest"
        if parent:
            parent_manifest.write_bytes(decrypt_file(parent.path / MANIFEST_FILE, settings.key))
            args.append(f"--incremental={parent_manifest}")
        manifest = _stream_encrypted(settings, args, env, work / DATA_FILE, backup,
                                     total if not parent else None)
        parent_manifest.unlink(missing_ok=True)
        if manifest is None:
            raise BackupError("pg_basebackup's output had no backup_manifest")
        with open(work / MANIFEST_FILE, "wb") as out:
            encrypt_bytes(manifest, settings.key, out)
        described = json.loads(manifest)
        backup.system_identifier = str(described.get("System-Identifier"))
        backup.timeline = str(described["WAL-Ranges"][-1]["Timeline"])
        first = described["WAL-Ranges"][0]
        backup.wal_start = wal_file_name(int(first["Timeline"]), first["Start-LSN"])
        after = table_stats_in_snapshot(conn)
    backup.tables = after
    backup.tables_changed_during_backup = sorted(t for t in after if before.get(t) != after[t])


def wal_file_name(timeline: int, lsn: str, segment_size: int = 16 << 20) -> str:
    """The WAL file holding `lsn` ("0/5000028"), as pg_walfile_name names it."""
    high, low = (int(part, 16) for part in lsn.split("/"))
    return f"{timeline:08X}{high:08X}{low // segment_size:08X}"


def table_stats_in_snapshot(conn: psycopg.Connection) -> dict[str, dict]:
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return table_stats(conn)


def _stream_encrypted(settings: Settings, args: list[str], env: dict, target: Path, backup: Backup,
                      total: int | None) -> bytes | None:
    """Run a tool writing a tar to stdout into an encrypted file; returns its backup_manifest."""
    manifest = None
    with open(target, "wb") as out, _bar(settings, total, f"{backup.kind} {backup.id}") as bar, \
            tempfile.TemporaryFile() as errors:
        writer = CompressingWriter(EncryptingWriter(out, settings.key))
        backup.compression = "zlib"
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors, env=env)
        tee = _Tee(proc.stdout, writer, bar)
        try:
            with tarfile.open(fileobj=tee, mode="r|") as archive:
                for member in archive:
                    if member.name == "backup_manifest":
                        manifest = archive.extractfile(member).read()
            tee.drain()
        except tarfile.TarError:
            tee.drain()  # the tool failed mid-stream: its exit status says why
        code = proc.wait()
        writer.close()
        backup.plain_size = tee.plain_bytes
        errors.seek(0)
        stderr = "\n".join(line for line in errors.read().decode(errors="replace").splitlines()
                           if "skipping special file" not in line)
    if code != 0:
        raise BackupError(f"{Path(args[0]).name} failed (exit {code}): {stderr.strip()}")
    return manifest


def _logical(settings: Settings, backup: Backup, work: Path) -> None:
    url = settings.database_url
    backup.database = make_url(url).database
    with psycopg.connect(url) as conn:
        backup.server_version = conn.execute("SHOW server_version").fetchone()[0]
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        # pg_dump reads the very snapshot the counts and hashes come from: an exact drill
        backup.tables = table_stats(conn)
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        args = [bin_path("pg_dump"), "-Fc", "--snapshot", snapshot, "--no-password", "-d", url]
        with open(work / DUMP_FILE, "wb") as out, _bar(settings, total, f"dump {backup.id}") as bar:
            writer = EncryptingWriter(out, settings.key)
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for block in iter(lambda: proc.stdout.read(CHUNK), b""):
                writer.write(block)
                bar.update(len(block))
            stderr = proc.stderr.read().decode(errors="replace")
            code = proc.wait()
            writer.close()
            backup.plain_size = writer.plain_bytes
        conn.rollback()
    if code != 0:
        raise BackupError(f"pg_dump failed (exit {code}): {stderr.strip()}")


def due_kind(settings: Settings, now=None) -> tuple[str, str]:
    """What `backup auto` takes now, and why."""
    now = now or utcnow()
    if settings.method == "logical":
        return "full", "external server: logical dump"
    physical = [b for b in settings.catalog.good() if b.method == "physical"]
    fulls = [b for b in physical if b.kind == "full"]
    if not fulls:
        return "full", "no full backup yet"
    age = now - fulls[-1].started
    if age.days >= FULL_EVERY_DAYS:
        return "full", f"last full backup is {age.days} days old"
    control = _control_data(settings.server)
    if physical[-1].system_identifier not in (None, control.get("Database system identifier")):
        return "full", "the database cluster was re-created since the last backup"
    if physical[-1].timeline not in (None, control.get("Latest checkpoint's TimeLineID")):
        return "full", "the database was restored from a backup since the last backup"
    return "incremental", f"last full backup is {age.days} days old"


def _control_data(server: EmbeddedPostgres) -> dict[str, str]:
    result = subprocess.run([bin_path("pg_controldata"), str(server.pgdata)], capture_output=True, text=True)
    return dict((k.strip(), v.strip()) for k, _, v in
                (line.partition(":") for line in result.stdout.splitlines()) if v)


