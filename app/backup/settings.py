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


@dataclass
class Settings:
    catalog: Catalog
    key: bytes
    keep_chains: int
    instance_dir: Path
    server: EmbeddedPostgres | None  # None: an external server, logical dumps
    database_url: str | None  # libpq URL of the external database
    progress: bool = True

    @property
    def method(self) -> str:
        return "physical" if self.server else "logical"


def settings_from_config(config, progress: bool = True) -> Settings:
    instance = Path(config["INSTANCE_DIR"])
    root = Path(os.environ.get("CRM_BACKUP_DIR") or config.get("BACKUP_DIR") or instance / "backups")
    keep = int(os.environ.get("CRM_BACKUP_KEEP") or config.get("BACKUP_KEEP_CHAINS") or KEEP_CHAINS)
    external = config.get("MIGRATION_DATABASE_URL") or config.get("DATABASE_URL")
    url = None
    if external:
        url = make_url(external).set(drivername="postgresql").render_as_string(hide_password=False)
    key = load_key(instance)
    return Settings(Catalog(root.resolve()), key, keep, instance,
                    None if external else EmbeddedPostgres(instance), url, progress)


def no_bar(settings: Settings) -> bool | None:
    """None: a bar on a terminal, none in a cron log (the summary lines are printed anyway)."""
    return None if settings.progress else True
