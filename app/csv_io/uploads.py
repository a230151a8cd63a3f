"""Files waiting between the dry run and the confirmation, in PostgreSQL (any app server may confirm)."""
from __future__ import annotations

import datetime as dt
import os
import secrets

from flask import current_app
from sqlalchemy import delete, select

from app.extensions import db
from app.models import CsvUpload

KEEP = dt.timedelta(days=1)
DEFAULT_MAX_MB = 50


def max_bytes() -> int:
    """The upload size limit: CRM_IMPORT_MAX_MB (default 50 MB; sizes: docs/performance.md)."""
    configured = current_app.config.get("CSV_IMPORT_MAX_BYTES")
    return int(configured) if configured else int(os.environ.get("CRM_IMPORT_MAX_MB", DEFAULT_MAX_MB)) * 2**20


def save(user_id: int, table: str, filename: str, encoding: str, content: bytes) -> str:
    """Keep a checked file until it is confirmed (caller commits); forget abandoned ones."""
    db.session.execute(delete(CsvUpload).where(
        CsvUpload.created_at < dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - KEEP))
    token = secrets.token_urlsafe(24)
    db.session.add(CsvUpload(upload_id=token, user_id=user_id, table_name=table, filename=filename[:255],
                             encoding=encoding, content=content))
    return token


def claim(token: str, user_id: int, table: str) -> CsvUpload | None:
    """The user's own waiting file, locked so that a double click imports it once."""
    return db.session.scalar(select(CsvUpload).where(
        CsvUpload.upload_id == token[:64], CsvUpload.user_id == user_id, CsvUpload.table_name == table,
    ).with_for_update())
