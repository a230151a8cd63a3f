"""The scheduler's state per job: last run, its outcome, and when it is due next."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import UTC_NOW, Model


class ScheduledJob(Model):
    """One row per job of the scheduler's catalogue (app/scheduler/catalog.py), shared by every app server.

    Times are UTC. `next_due` survives a stop, so a run missed while the app was down runs at the
    next start; `last_status` is running, ok, failed or interrupted. Not audited (it changes at
    every run); what a job does is logged by the job.
    """

    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_due: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    last_started: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_finished: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_success: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_message: Mapped[str | None] = mapped_column(Text)
    last_duration: Mapped[float | None] = mapped_column(Float)  # seconds
    last_size: Mapped[int | None] = mapped_column(BigInteger)  # bytes, for jobs that write files
    last_runner: Mapped[str | None] = mapped_column(String(255))  # host:pid that ran it last
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)
