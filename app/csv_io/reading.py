"""Reading an uploaded CSV: the encoding (UTF-8 with or without BOM, GB18030/GBK), the delimiter, the rows."""
from __future__ import annotations

import csv
import io

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# choice -> Python codec; "auto" tries UTF-8 (BOM or not), then GB18030 (a superset of GBK,
# what Excel on Chinese Windows saves as "CSV")
ENCODINGS = {"auto": None, "utf-8": "utf-8-sig", "gb18030": "gb18030"}
ENCODING_LABELS = {"auto": _l("Detect (UTF-8 or GBK/GB18030)"), "utf-8": _l("UTF-8"),
                   "gb18030": _l("GBK / GB18030 (Excel on Chinese Windows)")}
DELIMITERS = ",;\t"
csv.field_size_limit(1_000_000)


class FileProblem(ValueError):
    """The file as a whole cannot be read; the message says why and what to do."""


def decode(data: bytes, choice: str = "auto") -> tuple[str, str]:
    """(text, encoding used) or FileProblem."""
    if not data.strip():
        raise FileProblem(_("The file is empty."))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:65536]:
        raise FileProblem(_("This is not a CSV text file (binary or UTF-16 data). "
                            "In Excel, save it as \"CSV UTF-8 (Comma delimited)\"."))
    if choice not in ENCODINGS:
        raise FileProblem(_("Unknown encoding %(name)s.", name=choice))
    tries = [ENCODINGS[choice]] if ENCODINGS[choice] else ["utf-8-sig", "gb18030"]
    for codec in tries:
        try:
            return data.decode(codec), "gb18030" if codec == "gb18030" else "utf-8"
        except UnicodeDecodeError as exc:
            failure = exc
    raise FileProblem(_("The file could not be read as %(names)s (byte %(pos)s). "
                        "Choose its encoding, or save it as \"CSV UTF-8\".",
                        names=" / ".join(str(ENCODING_LABELS[c]) for c in ENCODINGS if ENCODINGS[c] in tries),
                        pos=failure.start + 1))


def rows_of(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(spreadsheet row number, cells)]); blank lines are skipped."""
    try:
        delimiter = csv.Sniffer().sniff(text[:16384], DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        header = next(reader, None)
        for number, cells in enumerate(reader, 2):
            if any(c.strip() for c in cells):
                rows.append((number, cells))
    except csv.Error as exc:
        raise FileProblem(_("Row %(row)s cannot be read as CSV: %(error)s", row=reader.line_num, error=str(exc)))
    if not header or not any(h.strip() for h in header):
        raise FileProblem(_("The first row must name the columns."))
    return [h.strip() for h in header], rows
