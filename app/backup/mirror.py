"""The second destination (CRM_BACKUP_MIRROR_DIR, e.g. a mounted network share): every finished
backup is copied there and checked by checksum, so losing the machine does not lose the backups.
Archived WAL goes there from archive_command itself (app/backup/walcmd.py)."""
from __future__ import annotations

import os
import shutil

from app.backup.catalog import META, PARTIAL, Backup
from app.backup.crypto import sha256_file
from app.backup.settings import BackupError, Settings


def copy_backup(settings: Settings, backup: Backup) -> Backup | None:
    """Copy a finished backup into the mirror (partial dir, checksums, rename); None without a mirror."""
    mirror = settings.mirror
    if mirror is None:
        return None
    mirror.ensure()
    final = mirror.root / backup.id
    if final.exists():
        return Backup.load(final)
    partial = mirror.root / f"{PARTIAL}{backup.id}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(mode=0o700)
    try:
        for name, meta in backup.files.items():
            shutil.copyfile(backup.path / name, partial / name)
            if sha256_file(partial / name) != meta["sha256"]:
                raise BackupError(f"mirror copy of {backup.id}/{name} differs from the original (SHA-256)")
        shutil.copyfile(backup.path / META, partial / META)
        for path in partial.iterdir():
            path.chmod(0o600)
        os.rename(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Backup.load(final)


def sync_record(settings: Settings, backup: Backup) -> None:
    """Carry a backup's updated record (its restore drill's result) to the mirror's copy."""
    if settings.mirror and (settings.mirror.root / backup.id).is_dir():
        backup.save(settings.mirror.root / backup.id)


def prune_mirror(settings: Settings, deleted: list[Backup]) -> None:
    """Retention deletes in the mirror what it deleted in the primary, never more: after the primary
    is lost, the mirror's backups are all there is."""
    if settings.mirror is None:
        return
    for backup in deleted:
        shutil.rmtree(settings.mirror.root / backup.id, ignore_errors=True)
