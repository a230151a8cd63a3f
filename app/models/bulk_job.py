"""Bulk jobs: an "all matching" bulk action too large for one request, run in batches in the background."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import UTC_NOW, Model

STATUSES = ("queued", "running", "done", "failed", "cancelled")
OPEN = ("queued", "running")
ACTIONS = ("delete", "set", "export")


class BulkJob(Model):
    """One bulk action on the rows a list's arguments match (app/lists/bulk_jobs.py). Times are UTC.

    `arguments`: {"args": the list's URL arguments, "field"/"column"/"value" for a set}. `last_key`
    is the primary key the last committed batch ended on; `runner`/`lease_until` name who runs it
    and until when that claim holds (a runner that died lets it run out).
    """

    __tablename__ = "bulk_jobs"
    __table_args__ = (
        Index("ix_bulk_jobs_user_id", "user_id", "job_id"),
        Index("ix_bulk_jobs_open", "lease_until", "job_id",
              postgresql_where=text("status IN ('queued', 'running')")),
    )

    job_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False)
    screen: Mapped[str] = mapped_column(String(100), nullable=False)  # the list view's endpoint
    table_name: Mapped[str] = mapped_column(String(63), nullable=False)
    action: Mapped[str] = mapped_column(String(10), nullable=False)
    arguments: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    locale: Mapped[str] = mapped_column(String(10), nullable=False, server_default="en")
    total: Mapped[int] = mapped_column(Integer, nullable=False)
    done: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_key: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), nullable=False, server_default="queued")
    message: Mapped[str | None] = mapped_column(Text)
    result_file: Mapped[str | None] = mapped_column(String(255))  # an export's download name
    runner: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class BulkJobPart(Model):
    """One batch's CSV of an export job (the first part starts with the header)."""

    __tablename__ = "bulk_job_parts"

    job_id: Mapped[int] = mapped_column(Integer, ForeignKey("bulk_jobs.job_id", ondelete="CASCADE"),
                                        primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
