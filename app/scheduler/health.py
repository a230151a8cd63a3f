"""Why /health says "degraded": a job whose last run failed, a watched job (backups) overdue.

Reasons are short and public (a job's name and what is wrong, never its message: paths, hosts).
To add a check, append one callable to CHECKS: `check(app, now) -> list[str]`.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.backup import wal
from app.backup.settings import archives_wal
from app.extensions import db
from app.scheduler import state
from app.scheduler.catalog import jobs_for
from app.scheduler.tasks import backup_settings

ARCHIVE_LAG_TTL = 30.0  # seconds a read of the archiver's lag answers /health (a load balancer polls often)
LAG_CACHE = "crm_archive_lag"  # app.extensions: (monotonic time, lag) of the last read


def job_reasons(app: Flask, now: dt.datetime) -> list[str]:
    """'<job> failed' when its last run failed; '<job> overdue' when a watched job has not succeeded for
    its interval plus grace (counted from when the job appeared, before a first success)."""
    try:
        rows = state.rows()
    except SQLAlchemyError:  # no table yet (a database not migrated): nothing to say about jobs
        db.session.rollback()
        return []
    reasons = []
    for job in jobs_for(app.config):
        row = rows.get(job.name)
        if row is None:
            continue
        if row.last_status == state.FAILED:
            reasons.append(f"{job.name} failed")
        if job.grace is not None and now - (row.last_success or row.created_at) > job.every + job.grace:
            reasons.append(f"{job.name} overdue")
    return reasons


def archive_lag(app: Flask) -> float | None:
    """The archiver's lag (app/backup/wal.py), read at most once per ARCHIVE_LAG_TTL seconds: each read opens
    a superuser connection. None where nothing is archived (an external server) or it cannot be read."""
    if not archives_wal(app.config):
        return None
    clock = time.monotonic()
    cached = app.extensions.get(LAG_CACHE)
    if cached is None or clock - cached[0] >= ARCHIVE_LAG_TTL:
        cached = (clock, wal.archive_lag(backup_settings(app))[0])
        app.extensions[LAG_CACHE] = cached
    return cached[1]


def archive_reasons(app: Flask, now: dt.datetime) -> list[str]:
    """'wal-archive lagging' when a finished WAL segment has waited more than LAG_LIMIT seconds."""
    lag = archive_lag(app)  # None: archiving is off here, nothing to judge
    return ["wal-archive lagging"] if lag is not None and lag > wal.LAG_LIMIT else []


CHECKS: list[Callable[[Flask, dt.datetime], list[str]]] = [
    job_reasons,
    archive_reasons,
]


def degraded_reasons(app: Flask, now: dt.datetime | None = None) -> list[str]:
    now = now or state.utcnow()
    return [reason for check in CHECKS for reason in check(app, now)]
