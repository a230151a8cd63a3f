"""What `crm status` and the operations page show, as sections of rows.

Each section is computed by one function `section(app) -> Section`; SECTIONS lists them in page
order. To add one, append one line to SECTIONS: a function of your own, or
`settings_section(title, read)` for a function `read(backup_settings) -> dict` (its keys are
shown with KEY_LABELS; a false "ok" marks the section bad).
"""
from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text

from app.backup.catalog import Catalog, size_text
from app.backup.crypto import BackupCryptoError
from app.backup.settings import archives_wal
from app.backup.wal import archive_status
from app.extensions import db
from app.i18n.labels import column_label, label_for
from app.lists.bulk_jobs import progress
from app.models import BulkJob, User
from app.scheduler import state
from app.scheduler.catalog import jobs_for, scheduler_enabled
from app.scheduler.tasks import backup_settings, last_drill

OK, WARN, BAD, NONE = "ok", "warn", "bad", "none"
DISK_WARN_PERCENT = 90
BULK_JOBS_DAYS = 3  # bulk jobs shown: those open, and those that ended in the last days
BULK_JOBS_SHOWN = 20


@dataclass
class Section:
    """A titled table: `headers` (empty for label/value pairs), rows of cells, one level per row."""

    title: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    note: str = ""

    def add(self, *cells: Any, level: str = NONE) -> None:
        self.rows.append(["" if c is None else str(c) for c in cells])
        self.levels.append(level)

    @property
    def level(self) -> str:
        return BAD if BAD in self.levels else WARN if WARN in self.levels else OK


def when(value: dt.datetime | str | None) -> str:
    if not value:
        return "—"
    text = value if isinstance(value, str) else value.isoformat()
    return text[:19].replace("T", " ") + " UTC"


def every_text(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


STATUS_LEVELS = {state.OK: OK, state.FAILED: BAD, state.INTERRUPTED: WARN, state.RUNNING: NONE}


def jobs_section(app: Flask) -> Section:
    section = Section(_("Jobs"), [_("Job"), _("Every"), _("Last run"), _("Took"), _("Size"), _("Status"),
                                  _("Message"), _("Next run")])
    enabled = scheduler_enabled(app.config)
    if not enabled:
        section.note = _("The scheduler is off on this server (CRM_SCHEDULER=0, or DATABASE_URL without "
                         "CRM_SCHEDULER=1); another server may run the jobs.")
    rows = state.rows()
    for job in jobs_for(app.config):
        row = rows.get(job.name)
        if row is None:
            section.add(job.name, every_text(job.every), "—", "", "", _("never run"), "", "—")
            continue
        took = f"{row.last_duration:.1f} s" if row.last_duration is not None else ""
        size = size_text(row.last_size) if row.last_size is not None else ""
        section.add(job.name, every_text(job.every), when(row.last_started), took, size,
                    row.last_status or _("never run"), row.last_message, when(row.next_due),
                    level=STATUS_LEVELS.get(row.last_status or "", NONE))
    return section


def bulk_jobs_section(app: Flask) -> Section:
    """Users' bulk jobs (app/lists/bulk_jobs.py): queued and running, and those that ended in the last days."""
    section = Section(_("Bulk jobs"), [_("Job"), _("User"), _("List"), _("Action"), _("Progress"), _("Status"),
                                       _("Asked"), _("Ended"), _("Message")])
    section.note = _("Queued and running jobs, and those that ended in the last %(days)s days (newest first).",
                     days=BULK_JOBS_DAYS)
    since = state.utcnow() - dt.timedelta(days=BULK_JOBS_DAYS)
    rows = db.session.execute(
        select(BulkJob, User.username).join(User, User.user_id == BulkJob.user_id)
        .where(BulkJob.status.in_(("queued", "running")) | (BulkJob.finished_at > since))
        .order_by(BulkJob.job_id.desc()).limit(BULK_JOBS_SHOWN)).all()
    actions = {"delete": _("Delete"), "export": _("Export to CSV")}
    for job, username in rows:
        shown = progress(job)
        action = actions.get(job.action) or _("Set %(field)s", field=column_label(job.table_name,
                                                                           (job.arguments or {}).get("field", "")))
        stalled = job.status == "running" and job.lease_until is not None and job.lease_until < state.utcnow()
        section.add(job.job_id, username, _(label_for(job.table_name)), action, shown["counts"],
                    shown["status_label"], when(job.created_at), when(job.finished_at), job.message,
                    level=WARN if job.status == "failed" or stalled else NONE)
    return section


def drill_section(app: Flask) -> Section:
    section = Section(_("Last restore drill"))
    try:
        backups = backup_settings(app).catalog.good()
    except BackupCryptoError as exc:
        section.add(_("Backups"), str(exc), level=BAD)
        return section
    backup = last_drill(backups)
    if backup is None:
        section.add(_("Result"), _("no restore drill yet"), level=WARN if backups else NONE)
        return section
    result = backup.verification
    section.add(_("Backup"), backup.id)
    section.add(_("Result"), result["status"], level=OK if result["status"] == "passed" else BAD)
    section.add(_("When"), when(result["at"]))
    section.add(_("Detail"), "; ".join(result.get("detail") or []))
    return section


def backups_section(app: Flask) -> Section:
    section = Section(_("Backups"))
    try:
        settings = backup_settings(app)
    except BackupCryptoError as exc:
        section.add(_("Backups"), str(exc), level=BAD)
        return section
    chains = settings.catalog.chains()
    good = [b for chain in chains for b in chain]
    section.add(_("Where"), str(settings.catalog.root))
    section.add(_("Method"), settings.method)
    section.add(_("Chains"), _("%(n)d kept of %(keep)d", n=len(chains), keep=settings.keep_chains))
    section.add(_("Backups"), len(good), level=OK if good else WARN)
    section.add(_("Total size"), size_text(backed_up_bytes(settings.catalog, chains)))
    if good:
        newest = max(good, key=lambda b: b.started_at)
        section.add(_("Newest"), f"{newest.id} ({newest.kind}, {size_text(newest.size)}, "
                                 f"{when(newest.finished_at)})")
    return section


def backed_up_bytes(catalog: Catalog, chains: list | None = None) -> int:
    """Bytes of the kept backups, as the catalogue records them."""
    return sum(b.size for chain in (catalog.chains() if chains is None else chains) for b in chain)


def disk_warn_percent(config: Mapping) -> float:
    return float(config.get("DISK_WARN_PERCENT") or DISK_WARN_PERCENT)


def database_size() -> int:
    """Bytes of this instance's database, as PostgreSQL counts them (no walk over its files)."""
    return int(db.session.scalar(text("SELECT pg_database_size(current_database())")) or 0)


def disk_section(app: Flask) -> Section:
    """The instance directory and the backups' (when elsewhere): what they hold, from the database's size and
    the backup catalogue's, and the disk under each (statvfs); a disk fuller than the threshold warns."""
    threshold = disk_warn_percent(app.config)
    section = Section(_("Disk"), [_("Directory"), _("Its size"), _("Disk used"), _("Free")])
    section.note = _("Warning above %(p)s%% used (CRM_DISK_WARN_PERCENT).", p=f"{threshold:g}")
    instance = Path(app.config["INSTANCE_DIR"])
    sizes = {instance: database_size() if archives_wal(app.config) else 0}  # an external server's is elsewhere
    try:
        catalog = backup_settings(app).catalog
    except BackupCryptoError:
        catalog = None
    if catalog is not None:
        inside = catalog.root == instance or instance in catalog.root.parents
        place = instance if inside else catalog.root
        sizes[place] = sizes.get(place, 0) + backed_up_bytes(catalog)
    for place, size in sizes.items():
        if not place.exists():
            section.add(place, "—", "—", "—")
            continue
        usage = shutil.disk_usage(place)
        percent = 100 * usage.used / usage.total if usage.total else 0.0
        section.add(place, size_text(size), _("%(percent)s%% of %(total)s", percent=f"{percent:.0f}",
                                              total=size_text(usage.total)),
                    size_text(usage.free), level=WARN if percent >= threshold else OK)
    return section


KEY_LABELS: dict[str, Any] = {
    "window_start": _l("Recoverable from"),
    "window_end": _l("Recoverable to"),
    "lag_seconds": _l("Archive lag (seconds)"),
    "ok": _l("Status"),
}


def settings_section(title: Any, read: Callable[[Any], Mapping[str, Any]]) -> Callable[[Flask], Section]:
    """A section from `read(backup_settings) -> dict`: one row per key; a false "ok" is bad."""
    def section(app: Flask) -> Section:
        found = Section(str(title))
        try:
            values = read(backup_settings(app))
        except Exception as exc:  # noqa: BLE001 - a broken section must not take the page down
            found.add(_("Error"), str(exc), level=BAD)
            return found
        level = NONE if "ok" not in values else (OK if values["ok"] else BAD)
        for key, value in values.items():
            if key == "ok":
                value = _("working") if value else _("failing")
            elif isinstance(value, dt.datetime):
                value = when(value)
            found.add(str(KEY_LABELS.get(key, key)), value, level=level if key == "ok" else NONE)
        return found
    return section


SECTIONS: list[Callable[[Flask], Section]] = [
    jobs_section,
    bulk_jobs_section,
    drill_section,
    backups_section,
    settings_section(_l("Point-in-time recovery"), archive_status),
    disk_section,
]


def sections(app: Flask) -> list[Section]:
    """Every section, in page order; one that fails shows its error instead of hiding the others."""
    found = []
    for build in SECTIONS:
        try:
            found.append(build(app))
        except Exception as exc:  # noqa: BLE001
            db.session.rollback()
            broken = Section(build.__name__)
            broken.add(_("Error"), f"{type(exc).__name__}: {exc}", level=BAD)
            found.append(broken)
    return found
