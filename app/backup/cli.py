"""`crm backup full|incremental|auto|list|verify|prune` and `crm restore` (contract §4)."""
from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from app.backup.catalog import Backup, Catalog, CatalogError, size_text
from app.backup.crypto import BackupCryptoError
from app.backup.mirror import prune_mirror, sync_record
from app.backup.pitr import parse_time, restore_to_time
from app.backup.restoring import restore
from app.backup.settings import BackupError, MirrorError, Settings, settings_from_config
from app.backup.taking import due_kind, take_backup
from app.backup.verifying import verify
from app.backup.wal import archive_status, prune_archive


def _settings() -> Settings:
    try:
        return settings_from_config(current_app.config)
    except BackupCryptoError as exc:
        raise click.ClickException(str(exc)) from exc


def _audit(action: str, description: dict) -> None:
    """A logs entry; a database that cannot take it (e.g. being restored) only gets a warning."""
    from app.audit.record import record
    from app.extensions import db

    try:
        record(action, description)
    except Exception as exc:  # the backup itself must not fail because its log line could not be written
        db.session.rollback()
        click.echo(f"warning: could not write the logs entry ({type(exc).__name__})", err=True)


def _run_backup(kind: str, reason: str | None = None) -> Backup:
    settings = _settings()
    if settings.method == "logical":
        click.echo("External server (DATABASE_URL): physical backups are not possible there; "
                   "taking a logical dump with pg_dump.")
    started = time.monotonic()
    try:
        backup = take_backup(settings, kind, echo=click.echo)
    except MirrorError as exc:
        _audit("backup mirror failed", {"kind": kind, "error": str(exc)})
        raise click.ClickException(str(exc)) from exc
    except (BackupError, CatalogError, BackupCryptoError, OSError, RuntimeError) as exc:
        _audit("backup failed", {"kind": kind, "error": str(exc)})
        raise click.ClickException(f"backup failed, nothing was kept: {exc}") from exc
    seconds = time.monotonic() - started
    click.echo(f"Backup {backup.id}: {backup.kind} ({backup.method}), {size_text(backup.plain_size)} "
               f"-> {size_text(backup.size)} encrypted in {seconds:.1f}s"
               + (f", on top of {backup.parent}" if backup.parent else "")
               + (f" ({reason})" if reason else ""))
    if backup.tables_changed_during_backup:
        click.echo("  tables written to while it ran (a drill does not compare them): "
                   + ", ".join(backup.tables_changed_during_backup))
    _audit("backup", {"id": backup.id, "kind": backup.kind, "method": backup.method, "parent": backup.parent,
                      "bytes": backup.size, "seconds": round(seconds, 1)})
    _prune(settings)
    return backup


def _prune(settings: Settings) -> None:
    with settings.catalog.lock():
        deleted = settings.catalog.prune(settings.keep_chains)
        prune_mirror(settings, deleted)
        wal_files = prune_archive(settings)
    if wal_files:
        click.echo(f"WAL archive: deleted {wal_files} file(s) older than the oldest kept backup")
    if deleted:
        click.echo(f"Retention (keep {settings.keep_chains} chains): deleted "
                   + ", ".join(b.id for b in deleted))
        _audit("backup pruned", {"deleted": [b.id for b in deleted], "keep_chains": settings.keep_chains})


def _verify(settings: Settings, backup: Backup) -> None:
    click.echo(f"Verifying {backup.id}: pg_verifybackup and a restore drill")
    started = time.monotonic()
    result = verify(settings, backup, echo=click.echo)
    sync_record(settings, backup)
    seconds = time.monotonic() - started
    for line in result["detail"]:
        click.echo(f"  {line}")
    _audit("backup verify", {"id": backup.id, "status": result["status"], "seconds": round(seconds, 1),
                             "detail": result["detail"]})
    if result["status"] != "passed":
        raise click.ClickException(f"VERIFY FAILED for {backup.id}: {result['detail'][-1]}")
    click.echo(f"Verified {backup.id}: restore drill passed in {seconds:.1f}s")


backup_group = AppGroup("backup", help="Encrypted physical backups (full weekly, incremental daily) "
                                         "and restore drills.")


@backup_group.command("full")
def full() -> None:
    """Take a full base backup (pg_basebackup), or a pg_dump on an external server."""
    _run_backup("full")


@backup_group.command("incremental")
def incremental() -> None:
    """Take an incremental backup on top of the latest backup (PostgreSQL 17+)."""
    _run_backup("incremental")


@backup_group.command("auto")
@click.option("--verify/--no-verify", "then_verify", default=True, show_default=True,
              help="Run a restore drill on the new backup.")
def auto(then_verify: bool) -> None:
    """Full when the last full is 7 days old or missing, else incremental; then a drill (for cron)."""
    kind, reason = due_kind(_settings())
    backup = _run_backup(kind, reason)
    if then_verify:
        _verify(_settings(), backup)


@backup_group.command("list")
def list_backups() -> None:
    """Each chain (a full backup and its incrementals) with times, sizes and verification."""
    settings = _settings()
    chains = settings.catalog.chains()
    click.echo(f"Backups in {settings.catalog.root} ({settings.method}; keep {settings.keep_chains} chains)"
               + (f"; mirrored to {settings.mirror.root}" if settings.mirror else ""))
    _window(settings)
    if not chains:
        click.echo("  none yet: run `crm backup full`")
        return
    for chain in chains:
        click.echo(f"\nChain {chain[0].id}: {len(chain)} backup(s), {size_text(sum(b.size for b in chain))}")
        click.echo(f"  {'ID':<32} {'KIND':<12} {'STARTED (UTC)':<20} {'TOOK':>6} {'SIZE':>9}  VERIFIED")
        for b in chain:
            took = (datetime.fromisoformat(b.finished_at) - b.started).seconds if b.finished_at else 0
            verified = "never"
            if b.verification:
                verified = f"{b.verification['status']} {b.verification['at'][:16].replace('T', ' ')}"
            click.echo(f"  {b.id:<32} {b.kind:<12} {b.started_at[:19].replace('T', ' '):<20} "
                       f"{took:>5}s {size_text(b.size):>9}  {verified}")


def _window(settings: Settings) -> None:
    status = archive_status(settings)
    start, end, lag = status["window_start"], status["window_end"], status["lag_seconds"]
    fmt = "%Y-%m-%d %H:%M:%S"
    if start and end:
        click.echo(f"Point-in-time recovery window: {start:{fmt}} .. {end:{fmt}} UTC "
                   "(`crm restore latest --to-time \"YYYY-MM-DD HH:MM:SS\" --target DIR`)")
    else:
        click.echo("Point-in-time recovery window: none"
                   + (f" (WAL archived up to {end:{fmt}} UTC, but no base backup it continues)" if end else ""))
    click.echo("WAL archive lag: " + (f"{lag:.0f} s" if lag is not None else "unknown")
               + (f" ({status['reason']})" if status["reason"] else ""))


@backup_group.command("verify")
@click.argument("backup_id", default="latest")
def verify_command(backup_id: str) -> None:
    """pg_verifybackup and a restore drill for a backup (default: the latest)."""
    settings = _settings()
    try:
        backup = settings.catalog.get(backup_id)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from exc
    _verify(settings, backup)


@backup_group.command("prune")
@click.option("--keep", type=click.IntRange(min=1), default=None, help="Chains to keep (default 4).")
def prune_command(keep: int | None) -> None:
    """Apply the retention policy now (backup commands do it after every backup)."""
    settings = _settings()
    if keep:
        settings.keep_chains = keep
    _prune(settings)


@click.command("restore")
@with_appcontext
@click.argument("backup_id")
@click.option("--target", required=True, type=click.Path(path_type=Path),
              help="New or empty directory for the restored data directory.")
@click.option("--to-time", "to_time", default=None, metavar='"YYYY-MM-DD HH:MM:SS"',
              help="Point-in-time recovery: replay archived WAL up to this second (UTC).")
def restore_command(backup_id: str, target: Path, to_time: str | None) -> None:
    """Rebuild a data directory from a backup chain (`latest` for the newest backup)."""
    settings = _settings()
    started = time.monotonic()
    try:
        if to_time is not None:
            _restore_to_time(settings, backup_id, to_time, target.resolve())
            return
        backup, catalog = _find(settings, backup_id)
        chain = restore(settings, backup, target.resolve(), echo=click.echo, catalog=catalog)
    except (BackupError, CatalogError, BackupCryptoError, OSError, RuntimeError) as exc:
        _audit("restore failed", {"id": backup_id, "target": str(target), "error": str(exc)})
        raise click.ClickException(f"restore failed: {exc}") from exc
    seconds = time.monotonic() - started
    _audit("restore", {"id": backup.id, "chain": [b.id for b in chain], "target": str(target.resolve()),
                       "seconds": round(seconds, 1)})
    click.echo(f"Restored {backup.id} ({' + '.join(b.id for b in chain)}) into {target} in {seconds:.1f}s")
    if backup.method == "physical":
        click.echo("Start it in place of the current database: see docs/operations.md, 'Restoring'.")
    sys.stdout.flush()


def _find(settings: Settings, backup_id: str) -> tuple[Backup, Catalog]:
    """The backup and its catalog: the backup dir, else the mirror (the backup dir was lost)."""
    try:
        return settings.catalog.get(backup_id), settings.catalog
    except CatalogError:
        if settings.mirror is None:
            raise
        backup = settings.mirror.get(backup_id)
        click.echo(f"{backup_id} is not in {settings.catalog.root}: restoring from the mirror {settings.mirror.root}")
        return backup, settings.mirror


def _restore_to_time(settings: Settings, backup_id: str, to_time: str, target: Path) -> None:
    started = time.monotonic()
    try:
        when = parse_time(to_time)
        chain, replayed = restore_to_time(settings, backup_id, when, target, echo=click.echo)
    except (BackupError, CatalogError, BackupCryptoError, OSError, RuntimeError) as exc:
        _audit("restore failed", {"id": backup_id, "to_time": to_time, "target": str(target),
                                  "error": str(exc)})
        raise click.ClickException(f"restore failed: {exc}") from exc
    seconds = time.monotonic() - started
    _audit("restore", {"id": chain[-1].id, "chain": [b.id for b in chain], "to_time": when.isoformat(),
                       "target": str(target), "seconds": round(seconds, 1)})
    click.echo(f"Restored {' + '.join(b.id for b in chain)} and archived WAL up to {when:%Y-%m-%d %H:%M:%S} UTC "
               f"into {target} in {seconds:.1f}s (last transaction replayed: {replayed})")
    click.echo("Start it in place of the current database: see docs/operations.md, 'Restoring'.")
