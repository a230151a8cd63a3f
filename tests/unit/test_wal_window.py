"""The recoverable window and WAL retention, read from a catalog and an archive dir (no server)."""
from __future__ import annotations

import os
from datetime import datetime, timezone

from app.backup import wal
from app.backup.catalog import GOOD, Backup, Catalog
from app.backup.settings import Settings
from app.backup.walcmd import SUFFIX


def settings_in(tmp_path) -> Settings:
    return Settings(Catalog(tmp_path / "backups"), os.urandom(32), 1, tmp_path, None, None, False)


def backup(settings: Settings, backup_id: str, hour: int, wal_start: str, parent: str | None = None) -> None:
    path = settings.catalog.root / backup_id
    path.mkdir(parents=True)
    Backup(id=backup_id, kind="incremental" if parent else "full", method="physical", parent=parent,
           started_at=f"2026-12-01T{hour:02d}:00:00+00:00", finished_at=f"2026-12-01T{hour:02d}:00:30+00:00",
           status=GOOD, wal_start=wal_start).save(path)


def archive(settings: Settings, *segments: int, timeline: int = 1) -> None:
    directory = settings.catalog.root / wal.WAL_DIR
    directory.mkdir(parents=True, exist_ok=True)
    for n in segments:
        path = directory / f"{timeline:08X}{n // 256:08X}{n % 256:08X}{SUFFIX}"
        path.write_bytes(b"x")
        stamp = datetime(2026, 12, 1, 10, n % 60, tzinfo=timezone.utc).timestamp()
        os.utime(path, (stamp, stamp))


def test_the_window_starts_at_the_oldest_backup_the_archive_continues_without_a_gap(tmp_path):
    settings = settings_in(tmp_path)
    assert wal.window(settings) == (None, None)
    backup(settings, "old-full", 1, "000000010000000000000002")
    backup(settings, "new-full", 5, "000000010000000000000009")
    archive(settings, 2, 3, 4, 9, 10, 11)  # 5..8 lost: the old backup cannot be rolled forward to now
    start, end = wal.window(settings)
    assert start == datetime(2026, 12, 1, 5, 0, 30, tzinfo=timezone.utc)
    assert end == datetime(2026, 12, 1, 10, 11, tzinfo=timezone.utc)
    archive(settings, 5, 6, 7, 8)
    assert wal.window(settings)[0] == datetime(2026, 12, 1, 1, 0, 30, tzinfo=timezone.utc)
    # a new timeline after a restore continues the numbering: no gap
    archive(settings, 12, 13, timeline=2)
    assert wal.window(settings)[0].hour == 1 and wal.segment_number("00000002000000010000000A") == 0x10A


def test_retention_deletes_wal_older_than_every_kept_backup_needs(tmp_path):
    settings = settings_in(tmp_path)
    backup(settings, "kept-full", 5, "000000010000000000000009")
    archive(settings, 2, 3, 8, 9, 10)
    history = settings.catalog.root / wal.WAL_DIR / f"00000002.history{SUFFIX}"
    history.write_bytes(b"x")
    assert wal.prune_archive(settings) == 3
    left = sorted(p.name for p in (settings.catalog.root / wal.WAL_DIR).iterdir())
    assert left == [f"000000010000000000000009{SUFFIX}", f"00000001000000000000000A{SUFFIX}", history.name]
