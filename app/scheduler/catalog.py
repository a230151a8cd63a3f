"""Every scheduled job, one line each: to add a job, add its line here (its `run(app)` lives with its feature).

Intervals are defaults; CRM_JOB_INTERVALS changes them per job (`reports=15m,logs-maintain=off`).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from app.scheduler import tasks
from app.scheduler.jobs import Job, with_intervals

DAY = timedelta(days=1)
AFTER_BACKUP = ("restore-drill", "backup-retention")

JOBS: list[Job] = [
    Job("backup-full", every=7 * DAY, run=tasks.full_backup, group="backup", then=AFTER_BACKUP,
        grace=timedelta(hours=12)),
    Job("backup-incremental", every=DAY, run=tasks.incremental_backup, group="backup", first=DAY,
        then=AFTER_BACKUP, grace=timedelta(hours=6)),
    Job("restore-drill", every=DAY, run=tasks.restore_drill, group="backup", retry=timedelta(hours=6)),
    Job("backup-retention", every=DAY, run=tasks.apply_retention, group="backup"),
    Job("logs-maintain", every=30 * DAY, run=tasks.maintain_logs_job, first=30 * DAY),
    Job("reports", every=timedelta(hours=1), run=tasks.report_snapshots),
    Job("webhooks", every=timedelta(seconds=5), run=tasks.send_webhooks),
    # bulk jobs nobody runs: queued, or their runner's lease ran out (a web worker died)
    Job("bulk-jobs", every=timedelta(seconds=15), run=tasks.bulk_jobs),
]


def jobs_for(config: Mapping) -> list[Job]:
    """The catalogue with this instance's intervals (config JOB_INTERVALS, from CRM_JOB_INTERVALS)."""
    return with_intervals(JOBS, config.get("JOB_INTERVALS"))


def scheduler_enabled(config: Mapping) -> bool:
    """CRM_SCHEDULER when set; otherwise on with the embedded database, off with DATABASE_URL."""
    setting = config.get("SCHEDULER")
    return (not config.get("DATABASE_URL")) if setting is None else bool(setting)
