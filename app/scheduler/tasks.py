"""The built-in jobs: backups with their restore drill and retention, logs maintenance, report snapshots.

Each takes the app and returns what the operations page shows; an exception marks the run failed.
They call the same functions as the `crm` commands and write the same `logs` entries.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask

from app.backup.catalog import Backup, size_text
from app.backup.settings import Settings, settings_from_config
from app.backup.taking import due_kind, take_backup
from app.backup.verifying import verify
from app.extensions import db
from app.scheduler.jobs import Outcome
from app.webhooks.delivery import deliver_due, prune_now, prune_settled

log = logging.getLogger(__name__)


class DrillFailed(RuntimeError):
    """The restore drill of a backup failed; the message says which and why."""


def backup_settings(app: Flask) -> Settings:
    """The backup settings of this instance, without progress bars (a job runs unattended)."""
    return settings_from_config(app.config, progress=False)


def _audit(action: str, description: dict[str, Any]) -> None:
    """A logs entry; failing to write it must not fail the job (the database may be the problem)."""
    from app.audit.record import record

    try:
        record(action, {**description, "scheduled": True})
    except Exception:
        db.session.rollback()
        log.warning("could not write the logs entry for %s", action, exc_info=True)


def _backup(settings: Settings, kind: str, reason: str | None = None) -> Outcome:
    started = time.monotonic()
    try:
        backup = take_backup(settings, kind, echo=log.info)
    except Exception as exc:
        _audit("backup failed", {"kind": kind, "error": str(exc)})
        raise
    seconds = round(time.monotonic() - started, 1)
    _audit("backup", {"id": backup.id, "kind": backup.kind, "method": backup.method, "parent": backup.parent,
                      "bytes": backup.size, "seconds": seconds})
    return Outcome(f"{backup.id}: {backup.kind} ({backup.method}), {size_text(backup.size)}"
                   + (f", on top of {backup.parent}" if backup.parent else "")
                   + (f" ({reason})" if reason else ""), backup.size)


def full_backup(app: Flask) -> Outcome:
    return _backup(backup_settings(app), "full")


def incremental_backup(app: Flask) -> Outcome:
    """An incremental, or a full one when the chain needs it (none yet, the cluster restored or re-created)."""
    settings = backup_settings(app)
    kind, reason = due_kind(settings)
    return _backup(settings, kind, reason if kind == "full" else None)


def last_drill(backups: list[Backup]) -> Backup | None:
    """The backup whose restore drill ran last."""
    drilled = [b for b in backups if b.verification]
    return max(drilled, key=lambda b: b.verification["at"]) if drilled else None


def restore_drill(app: Flask) -> Outcome | str:
    """A restore drill of the newest backup, unless one already passed."""
    settings = backup_settings(app)
    good = settings.catalog.good()
    if not good:
        return "no backup yet"
    backup = good[-1]
    if backup.verification and backup.verification["status"] == "passed":
        return f"{backup.id}: passed at {backup.verification['at']} (not drilled again)"
    started = time.monotonic()
    result = verify(settings, backup, echo=log.info)
    _audit("backup verify", {"id": backup.id, "status": result["status"],
                             "seconds": round(time.monotonic() - started, 1), "detail": result["detail"]})
    if result["status"] != "passed":
        raise DrillFailed(f"restore drill of {backup.id} failed: {result['detail'][-1]}")
    return Outcome(f"{backup.id}: passed ({result['detail'][-1]})", backup.size)


def apply_retention(app: Flask) -> Outcome:
    """Keep the newest chains whole (app/backup/catalog.py: a kept incremental keeps its parents)."""
    settings = backup_settings(app)
    with settings.catalog.lock():
        deleted = settings.catalog.prune(settings.keep_chains)
    if deleted:
        _audit("backup pruned", {"deleted": [b.id for b in deleted], "keep_chains": settings.keep_chains})
    kept = settings.catalog.good()
    return Outcome(f"keep {settings.keep_chains} chains: {len(kept)} backup(s) kept, "
                   + (f"deleted {', '.join(b.id for b in deleted)}" if deleted else "none deleted"),
                   sum(b.size for b in kept))


def maintain_logs_job(app: Flask) -> str:
    from app.audit.maintenance import maintain_logs

    return maintain_logs(app).summary()


def report_snapshots(app: Flask) -> str:
    from app.reports.generators import ReportsBusy, generate

    try:
        rows = generate()
    except ReportsBusy:
        return "skipped: another run (Refresh now, or another server) was generating them"
    return f"{len(rows)} snapshot(s) written"


def send_webhooks(app: Flask) -> str:
    """The webhooks' outbox: send what is due (new events, retries); once an hour, prune old settled rows."""
    made = f"{deliver_due(app)} delivery attempts"
    if not prune_now(app):
        return made
    return f"{made}, {prune_settled(app)} old deliveries pruned"


def bulk_jobs(app: Flask) -> str:
    """Bulk jobs left queued or whose runner died (app/lists/bulk_jobs.py), each to its end."""
    from app.lists.bulk_jobs import run_open

    return run_open(app)
