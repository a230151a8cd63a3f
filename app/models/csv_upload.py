"""The rows of a CSV file checked by a dry run, waiting for the user's confirmation to import them."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import UTC_NOW, Model


class CsvUpload(Model):
    """Kept in PostgreSQL, not on one server's disk, so the confirmation may reach any app server.

    `content` holds the checked rows (JSON), so the confirmation need not check every cell again.
    Not audited (the rows would be copied into the log); the import itself is logged.
    """

    __tablename__ = "csv_uploads"

    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random token
    user_id: Mapped[int] = mapped_column(Integer, nullable=False)
    table_name: Mapped[str] = mapped_column(String(63), nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    encoding: Mapped[str] = mapped_column(String(20), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW,
                                                    index=True)
