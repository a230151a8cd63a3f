"""The `scheduled_jobs` rows: created when a job appears, read by the runner, the page and /health."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert

from app.extensions import db
from app.models import ScheduledJob
from app.scheduler.jobs import Job

RUNNING, OK, FAILED, INTERRUPTED = "running", "ok", "failed", "interrupted"
MESSAGE_LIMIT = 2000


def utcnow() -> dt.datetime:
    """Naive UTC, as every timestamp column of the schema."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def ensure_rows(jobs: list[Job], now: dt.datetime) -> None:
    """A row for each job not seen before, due after its `first` delay; existing rows keep their state."""
    if jobs:
        db.session.execute(insert(ScheduledJob).on_conflict_do_nothing(),
                           [{"name": j.name, "next_due": now + j.first} for j in jobs])
    db.session.commit()


def rows() -> dict[str, Row]:
    """Every job's row as plain values (they outlive the transaction, which ends here)."""
    found = {r.name: r for r in db.session.execute(select(ScheduledJob.__table__))}
    db.session.commit()  # a runner thread must not sit idle in a transaction
    return found


def get(name: str) -> Row | None:
    row = db.session.execute(select(ScheduledJob.__table__).where(ScheduledJob.name == name)).first()
    db.session.commit()
    return row


def _set(name: str, **values) -> None:
    db.session.execute(update(ScheduledJob).where(ScheduledJob.name == name).values(**values))
    db.session.commit()


def mark_started(name: str, now: dt.datetime, runner: str) -> None:
    _set(name, last_started=now, last_status=RUNNING, last_message=None, last_runner=runner)


def mark_finished(name: str, *, status: str, message: str | None, started: dt.datetime, finished: dt.datetime,
                  duration: float, size: int | None, next_due: dt.datetime | None) -> None:
    """Record a run's end; `next_due` None leaves it as it was (an interrupted run runs again)."""
    values = {"last_started": started, "last_finished": finished, "last_status": status, "last_duration": duration,
                  "last_size": size, "last_message": (message or "")[:MESSAGE_LIMIT] or None}
    if status == OK:
        values["last_success"] = finished
    if next_due is not None:
        values["next_due"] = next_due
    _set(name, **values)


def make_due(names: tuple[str, ...], now: dt.datetime) -> None:
    if names:
        db.session.execute(update(ScheduledJob).where(ScheduledJob.name.in_(names), ScheduledJob.next_due > now)
                           .values(next_due=now))
        db.session.commit()


def mark_interrupted(name: str, message: str) -> None:
    """A run that ended without recording its end (stopped, killed): says so; next_due is left, so it runs again."""
    db.session.execute(update(ScheduledJob).where(ScheduledJob.name == name, ScheduledJob.last_status == RUNNING)
                       .values(last_status=INTERRUPTED, last_message=message))
    db.session.commit()
