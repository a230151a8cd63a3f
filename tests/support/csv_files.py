"""Reading the CSV the app sends, as a spreadsheet would."""
from __future__ import annotations

import csv
import io

BOM = b"\xef\xbb\xbf"


def parse(body: bytes) -> list[list[str]]:
    assert body.startswith(BOM), "no UTF-8 BOM: Excel would show Chinese text as mojibake"
    return list(csv.reader(io.StringIO(body[len(BOM):].decode("utf-8"), newline="")))


def as_dicts(body: bytes) -> list[dict[str, str]]:
    header, *rows = parse(body)
    return [dict(zip(header, row)) for row in rows]
