"""Where backups go, with which key and how many are kept; the error every backup step raises."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from app.backup.catalog import Catalog
from app.backup.crypto import load_key
from app.ops.embedded_db import EmbeddedPostgres

DATA_FILE, MANIFEST_FILE = "data.tar.enc", "manifest.enc"
DUMP_FILE = "dump.enc"
KEEP_CHAINS = 4


class BackupError(Exception):
    """A backup, verification or restore failed; the message says why."""


class MirrorError(BackupError):
    """A backup was kept in the backup dir but could not be copied to the mirror."""


@dataclass
class Settings:
    catalog: Catalog
    key: bytes
    keep_chains: int
    instance_dir: Path
    server: EmbeddedPostgres | None  # None: an external server, logical dumps
    database_url: str | None  # libpq URL of the external database
    progress: bool = True
    mirror: Catalog | None = None  # CRM_BACKUP_MIRROR_DIR: every backup and WAL file copied there too
    archive_timeout: int = 30  # seconds: the longest WAL waits before it is archived (the RPO)

    @property
    def method(self) -> str:
        return "physical" if self.server else "logical"


def archives_wal(config) -> bool:
    """Whether this instance archives WAL: only the embedded server does (an external one is dumped)."""
    return not (config.get("MIGRATION_DATABASE_URL") or config.get("DATABASE_URL"))


def settings_from_config(config, progress: bool = True) -> Settings:
    instance = Path(config["INSTANCE_DIR"])
    root = Path(os.environ.get("CRM_BACKUP_DIR") or config.get("BACKUP_DIR") or instance / "backups")
    keep = int(os.environ.get("CRM_BACKUP_KEEP") or config.get("BACKUP_KEEP_CHAINS") or KEEP_CHAINS)
    external = config.get("MIGRATION_DATABASE_URL") or config.get("DATABASE_URL")
    url = None
    if external:
        url = make_url(external).set(drivername="postgresql").render_as_string(hide_password=False)
    mirror = os.environ.get("CRM_BACKUP_MIRROR_DIR") or config.get("BACKUP_MIRROR_DIR")
    timeout = int(os.environ.get("CRM_WAL_ARCHIVE_TIMEOUT") or config.get("WAL_ARCHIVE_TIMEOUT") or 30)
    key = load_key(instance)
    return Settings(Catalog(root.resolve()), key, keep, instance,
                    None if external else EmbeddedPostgres(instance), url, progress,
                    Catalog(Path(mirror).resolve()) if mirror else None, timeout)


def no_bar(settings: Settings) -> bool | None:
    """None: a bar on a terminal, none in a cron log (the summary lines are printed anyway)."""
    return None if settings.progress else True
