"""How values become CSV cells that Excel opens correctly, and cannot be turned into formulas."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any, Iterable, Iterator

BOM = "\ufeff"  # Excel reads UTF-8 (and so Chinese text) only with it
# OWASP CSV injection: a cell starting with one of these is a formula to spreadsheet programs
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard(text: str) -> str:
    """Text that a spreadsheet shows as text, never evaluates."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: Any) -> str:
    """A stored value as a plain cell: numbers without grouping, ISO dates, names of related rows."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal, float)):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return guard(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return guard(str(value))


class CsvChunks:
    """Rows in, UTF-8 CSV text out in chunks: BOM first, CRLF line ends, quotes where needed."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        self.buffer.write(BOM)

    def add(self, row: Iterable[str]) -> None:
        self.writer.writerow(row)

    def take(self) -> bytes:
        data = self.buffer.getvalue().encode("utf-8")
        self.buffer.seek(0)
        self.buffer.truncate()
        return data


def stream(header: list[str], rows: Iterable[list[str]], chunk_rows: int = 1000) -> Iterator[bytes]:
    """The CSV of `rows`, `chunk_rows` rows per yielded chunk."""
    out = CsvChunks()
    out.add(header)
    for count, row in enumerate(rows, 1):
        out.add(row)
        if count % chunk_rows == 0:
            yield out.take()
    yield out.take()
