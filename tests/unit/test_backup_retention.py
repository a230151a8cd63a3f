"""The backup retention policy on a catalog of metadata: whole chains kept or deleted, newest first."""
from __future__ import annotations

from app.backup.catalog import GOOD, Backup, Catalog


def _fake(catalog: Catalog, backup_id: str, day: int, parent: str | None = None) -> None:
    """A catalog entry (metadata only): the retention policy reads nothing else."""
    path = catalog.root / backup_id
    path.mkdir(parents=True)
    Backup(id=backup_id, kind="incremental" if parent else "full", method="physical", parent=parent,
           started_at=f"2026-01-{day:02d}T02:00:00+00:00", status=GOOD).save(path)


def test_retention_keeps_newest_chains_and_never_orphans_an_incremental(tmp_path):
    catalog = Catalog(tmp_path / "backups")
    day = 1
    for week in range(1, 7):
        _fake(catalog, f"w{week}-full", day)
        previous = f"w{week}-full"
        for n in range(1, 4):
            _fake(catalog, f"w{week}-inc{n}", day + n, previous)
            previous = f"w{week}-inc{n}"
        day += 7
    # a late incremental built on an old chain keeps that chain's full and every link to it
    _fake(catalog, "late-inc", 28, "w1-inc3")
    kept, deleted = catalog.retention_plan(4)
    assert {b.id for b in kept} >= {f"w{w}-{s}" for w in (3, 4, 5, 6) for s in ("full", "inc1", "inc2", "inc3")}
    deleted_ids = {b.id for b in deleted}
    assert deleted_ids == {f"w{w}-{s}" for w in (1, 2) for s in ("full", "inc1", "inc2", "inc3")} | {"late-inc"}
    catalog.prune(4)
    for backup in catalog.good():
        assert catalog.chain(backup)[0].kind == "full"  # every kept incremental still restores
    assert len(catalog.chains()) == 4
