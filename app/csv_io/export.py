"""A list screen's rows as CSV, exactly as filtered and ordered, streamed from a server-side cursor."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import inspect
from sqlalchemy.orm import joinedload

from app.audit import record as audit_log
from app.csv_io.cells import cell, stream
from app.encryption.columns import EncryptedAmount
from app.extensions import db

log = logging.getLogger(__name__)

BATCH = 1000  # rows fetched per round trip of the server-side cursor, and per chunk sent
HIDDEN = {"version"}  # the optimistic-lock counter means nothing outside the app


@dataclass(frozen=True)
class Column:
    key: str  # attribute of the model
    label: str
    related: bool = False  # a many-to-one relationship: exported as the related row's name


def export_columns(model: type, labels: dict[str, Any]) -> list[Column]:
    """Every stored column in table order, each foreign key followed by the related row's name.

    A band is left out beside its amount: the plain amount says more.
    """
    mapper = inspect(model)
    table = mapper.local_table
    relations = {local.name: rel for rel in mapper.relationships if rel.direction.name == "MANYTOONE"
                 for local in rel.local_columns}
    amounts = {c.name for c in table.columns if isinstance(c.type, EncryptedAmount)}
    columns: list[Column] = []
    for column in table.columns:
        name = column.name
        if name in HIDDEN or (name.endswith("_band") and name.removesuffix("_band") in amounts):
            continue
        key = mapper.get_property_by_column(column).key
        columns.append(Column(key, str(labels.get(key) or key)))
        rel = relations.get(name)
        if rel is not None:
            columns.append(Column(rel.key, str(labels.get(rel.key) or rel.key), related=True))
    return columns


def export_query(datamodel: Any, filters: Any, order_column: str, order_direction: str,
                 columns: list[Column]) -> Any:
    """The list's query (FAB's own filters and order, pk as tie-breaker), streamed in batches."""
    query = datamodel.apply_all(datamodel.session.query(datamodel.obj), filters,
                                order_column, order_direction)
    for column in columns:
        if column.related:  # one query, not one per row
            query = query.options(joinedload(getattr(datamodel.obj, column.key)))
    return query.yield_per(BATCH)  # server-side cursor: memory stays flat however many rows


def row_values(item: Any, columns: list[Column]) -> list[str]:
    out = []
    for column in columns:
        value = getattr(item, column.key)
        out.append(cell(None if value is None else str(value)) if column.related else cell(value))
    return out


def csv_stream(query: Any, columns: list[Column], audit: dict[str, Any]) -> Iterator[bytes]:
    """The CSV bytes; when the download ends (or is abandoned), one `export` log entry with the row count."""
    counted = {"rows": 0}

    def rows() -> Iterator[list[str]]:
        for item in query:
            counted["rows"] += 1
            yield row_values(item, columns)

    complete = False
    try:
        yield from stream([c.label for c in columns], rows(), BATCH)
        complete = True
    finally:
        entry = {**audit, "rows": counted["rows"], "complete": complete}
        try:
            # the query's session is the view's; the request's teardown may have closed it
            # before the body was sent (the body outlives the view): close it here, with the
            # cursor's read transaction, rather than leave the connection to the garbage collector
            query.session.close()
            audit_log.record("export", entry, table=audit.get("table"))
        except Exception:  # the log must not turn a finished download into an error
            log.exception("could not log the export %s", entry)
        finally:
            db.session.remove()


def filename(table: str) -> str:
    return f"{table}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}.csv"
