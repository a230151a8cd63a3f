"""Why /health says "degraded": a job whose last run failed, a watched job (backups) overdue.

Reasons are short and public (a job's name and what is wrong, never its message: paths, hosts).
To add a check, append one callable to CHECKS: `check(app, now) -> list[str]`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.backup import wal
from app.extensions import db
from app.scheduler import state
from app.scheduler.catalog import jobs_for
from app.scheduler.tasks import backup_settings


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


def archive_reasons(app: Flask, now: dt.datetime) -> list[str]:
    """'wal-archive lagging' when a finished WAL segment has waited more than LAG_LIMIT seconds."""
    lag, _why = wal.archive_lag(backup_settings(app))  # None: archiving is off here, nothing to judge
    return ["wal-archive lagging"] if lag is not None and lag > wal.LAG_LIMIT else []


CHECKS: list[Callable[[Flask, dt.datetime], list[str]]] = [
    job_reasons,
    archive_reasons,
]


def degraded_reasons(app: Flask, now: dt.datetime | None = None) -> list[str]:
    now = now or state.utcnow()
    return [reason for check in CHECKS for reason in check(app, now)]
