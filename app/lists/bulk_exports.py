"""An export job's file: one CSV part per batch in `bulk_job_parts`, read back in order, kept for a week.

The rows come in the list's order, as the inline export's: each batch is the keyset page after the
last row written (`app/lists/keyset.py`), read from the sort column's index (column, key), so a
batch costs the same at any depth of a million rows. The position is kept with the job.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Query, joinedload

from app.csv_io.cells import BOM, CsvChunks
from app.csv_io.export import Column, row_values
from app.extensions import db
from app.lists.keyset import Cursor, keyset_page
from app.lists.selection import list_order, primary_key
from app.models import BulkJob, BulkJobPart
from app.scheduler.state import utcnow

EXPORTS_KEPT = dt.timedelta(days=7)  # an export's file is kept this long after the job ends


def next_rows(view: Any, query: Query, args: Mapping[str, Any], position: str | None, size: int,
              columns: list[Column]) -> tuple[list[Any], str | None]:
    """The next `size` rows of `query` in the list's order after `position`, and the position of the last one."""
    datamodel, model = view.datamodel, view.datamodel.obj
    column, direction = list_order(view, args)
    order = f"{column} {direction}"
    after = Cursor.decode(position, datamodel.cursor_type(column), order) if position else None
    for related in (c for c in columns if c.related):  # one query, not one per row
        query = query.options(joinedload(getattr(model, related.key)))
    pk = primary_key(model)
    rows = keyset_page(query.order_by(None), getattr(model, column), pk, direction == "desc", size, after=after,
                       nullable=datamodel.is_nullable(column)).rows
    last = Cursor(order, getattr(rows[-1], column), getattr(rows[-1], pk.key)).encode() if rows else position
    return rows, last


def write_part(job_id: int, rows: Iterable[Any], columns: list[Column]) -> int:
    """The batch's rows as CSV (after the header, for the first), one part of the export; the rows written."""
    number = db.session.scalar(select(func.coalesce(func.max(BulkJobPart.part) + 1, 0))
                               .where(BulkJobPart.job_id == job_id))
    out = CsvChunks()
    if number == 0:
        out.add([c.label for c in columns])
    written = 0
    for item in rows:
        out.add(row_values(item, columns))
        written += 1
    data = out.take()
    if number:
        data = data.removeprefix(BOM.encode())  # the BOM opens the file only
    db.session.add(BulkJobPart(job_id=job_id, part=number, content=data))
    db.session.flush()
    return written


def parts(job_id: int) -> list[int]:
    return list(db.session.scalars(select(BulkJobPart.part).where(BulkJobPart.job_id == job_id)
                                   .order_by(BulkJobPart.part)))


def part(job_id: int, number: int) -> bytes:
    return db.session.scalar(select(BulkJobPart.content).where(BulkJobPart.job_id == job_id,
                                                               BulkJobPart.part == number)) or b""


def drop_old_exports() -> int:
    """Remove the files of exports that ended more than EXPORTS_KEPT ago (the jobs stay, as a record)."""
    old = select(BulkJob.job_id).where(BulkJob.action == "export", BulkJob.finished_at < utcnow() - EXPORTS_KEPT)
    removed = db.session.execute(delete(BulkJobPart).where(BulkJobPart.job_id.in_(old))
                                 .returning(BulkJobPart.job_id)).scalars().all()
    db.session.commit()
    return len(set(removed))
