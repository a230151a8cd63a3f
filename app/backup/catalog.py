"""The backup catalog: one directory per backup with its metadata (backup.json),
chains (a full backup plus the incrementals on top of it) and retention."""
from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

META = "backup.json"
PARTIAL = ".partial-"  # a backup being written; never listed, removed when it fails
GOOD = "good"


class CatalogError(Exception):
    """A backup id that does not exist, or a chain that is broken."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@dataclass
class Backup:
    id: str
    kind: str  # "full" | "incremental"
    method: str  # "physical" (pg_basebackup) | "logical" (pg_dump)
    parent: str | None
    started_at: str
    finished_at: str | None = None
    status: str = "running"
    size: int = 0  # bytes on disk (encrypted)
    plain_size: int = 0
    files: dict[str, dict] = field(default_factory=dict)  # name -> {sha256, size}
    key_id: str = ""
    system_identifier: str | None = None
    timeline: str | None = None
    server_version: str | None = None
    database: str | None = None
    tables: dict[str, dict] = field(default_factory=dict)  # table -> {rows, hash}
    tables_changed_during_backup: list[str] = field(default_factory=list)
    verification: dict | None = None  # {status, at, detail}
    compression: str | None = None  # "zlib": data.tar compressed before encryption; None: older backups
    wal_start: str | None = None  # the WAL file its replay starts in (point-in-time recovery)
    path: Path | None = field(default=None, repr=False, compare=False)

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.started_at)

    def save(self, path: Path | None = None) -> None:
        """Write backup.json atomically (rename), so a crash never leaves half a record."""
        target = path or self.path
        data = {k: v for k, v in asdict(self).items() if k != "path"}
        tmp = target / (META + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, target / META)

    @classmethod
    def load(cls, path: Path) -> "Backup":
        data = json.loads((path / META).read_text())
        return cls(**data, path=path)


class Catalog:
    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        # traversable, not listable: a restore drill's server account reaches its scratch dir
        self.root.chmod(0o711)
        return self.root

    def backups(self) -> list[Backup]:
        """Every finished backup, oldest first."""
        if not self.root.is_dir():
            return []
        found = [Backup.load(p) for p in self.root.iterdir()
                 if p.is_dir() and not p.name.startswith(".") and (p / META).exists()]
        return sorted(found, key=lambda b: (b.started_at, b.id))

    def good(self) -> list[Backup]:
        return [b for b in self.backups() if b.status == GOOD]

    def get(self, backup_id: str) -> Backup:
        good = self.good()
        if backup_id == "latest":
            if not good:
                raise CatalogError(f"no backups in {self.root}")
            return good[-1]
        for backup in good:
            if backup.id == backup_id:
                return backup
        raise CatalogError(f"no backup {backup_id!r} in {self.root} (see `crm backup list`)")

    def chain(self, backup: Backup) -> list[Backup]:
        """The full backup and every incremental up to `backup`, oldest first."""
        by_id = {b.id: b for b in self.good()}
        chain = [backup]
        while chain[0].parent:
            parent = by_id.get(chain[0].parent)
            if parent is None:
                raise CatalogError(f"backup {chain[0].id} needs {chain[0].parent}, which is missing")
            chain.insert(0, parent)
        return chain

    def chains(self) -> list[list[Backup]]:
        """Chains by their full backup, oldest first; each lists the full then its descendants."""
        good = self.good()
        roots = {b.id: [b] for b in good if b.parent is None}
        for backup in good:
            if backup.parent is not None:
                try:
                    roots[self.chain(backup)[0].id].append(backup)
                except CatalogError:
                    continue
        return list(roots.values())

    def new_id(self, kind: str) -> str:
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        base = f"{stamp}-{kind}"
        candidate, n = base, 1
        while (self.root / candidate).exists():
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    @contextmanager
    def lock(self, shared: bool = False) -> Iterator[None]:
        """Backups and pruning exclusive; verifies and restores shared (they only read chains).
        The exclusive holder removes partial backups left by a crashed run."""
        self.ensure()
        with open(self.root / ".lock", "a") as handle:
            try:
                fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise CatalogError("another backup, verify or restore is running on "
                                   f"{self.root} (try again when it is done)") from exc
            if not shared:
                for stale in self.root.glob(PARTIAL + "*"):
                    shutil.rmtree(stale, ignore_errors=True)
            yield

    def retention_plan(self, keep_chains: int) -> tuple[list[Backup], list[Backup]]:
        """(kept, deleted): the newest `keep_chains` chains and everything they depend on."""
        chains = self.chains()
        kept_roots = chains[-keep_chains:] if keep_chains > 0 else []
        kept_ids: set[str] = set()
        for chain in kept_roots:
            for backup in chain:
                kept_ids.update(b.id for b in self.chain(backup))  # a parent is never orphaned
        every = self.backups()
        return ([b for b in every if b.id in kept_ids],
                [b for b in every if b.id not in kept_ids and b.status == GOOD])

    def prune(self, keep_chains: int) -> list[Backup]:
        _, deleted = self.retention_plan(keep_chains)
        # newest first: an incremental goes before the backup it builds on
        for backup in reversed(deleted):
            shutil.rmtree(backup.path)
        return deleted


def size_text(n: float) -> str:
    """'1.5 MB': a size in bytes for people (powers of 1000, as `df -H` and most file managers)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)
