"""JSON schemas of one table's columns as the REST API reads and returns them.

The rules are the forms' (app.crud.derive.column_validators), written as JSON
Schema: lengths, no control characters, not blank, documented values, amounts
as decimal strings, timestamps with their offset, foreign keys as ids.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.crud.api_fields import AMOUNT_PATTERN
from app.crud.datamodel import PK_MAX
from app.crud.derive import TEXT_MAX, encrypted_and_bands
from app.crud.forms import NoControlCharacters
from app.encryption.columns import AMOUNT_MAX, BAND_LABELS, EncryptedAmount
from app.models.choices import CHOICE_COLUMNS
from app.crud.custom_fields import custom_choices, link_target
from app.models.crm import EMAIL_RE, PHONE_RE


def _escaped(chars: list[str]) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in chars)


# What NoControlCharacters refuses (its own pattern), and the characters str.strip() removes, which
# a required text may not consist of only: listed one by one, so every regex engine reads them alike.
CONTROL = NoControlCharacters.pattern.pattern.strip("[]")
BLANK = _escaped([chr(i) for i in range(0x3001) if chr(i).isspace()])
STORABLE_TEXT = f"^[^{CONTROL}]*$"
NOT_BLANK_TEXT = f"^[^{CONTROL}]*[^{CONTROL}{BLANK}][^{CONTROL}]*$"
OPTIONAL_BLANK = f"^[{BLANK}]*$"  # an optional text of only spaces is no value (stored as NULL)
# the forms' formats (app.models.crm), without control characters
FORMATS = {"email": EMAIL_RE.replace(r"\s", r"\s" + CONTROL), "phone": PHONE_RE}
MONEY_DESCRIPTION = ("An amount as a decimal string (exact, never a binary float) from 0 to "
                     "9999999999999999.99 with at most two decimals, e.g. \"1234.50\". Stored encrypted.")


def id_schema(table: str | None = None, nullable: bool = False) -> dict[str, Any]:
    """A row's id: a positive integer (SERIAL); with `table`, the row it names."""
    schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": PK_MAX}
    if table:
        schema["description"] = f"Foreign key: the id of a row of the `{table}` table."
    if nullable:
        schema["nullable"] = True
    return schema


def money_schema(nullable: bool) -> dict[str, Any]:
    schema = {"type": "string", "format": "decimal", "pattern": AMOUNT_PATTERN, "minimum": 0,
              "maximum": float(AMOUNT_MAX), "description": MONEY_DESCRIPTION}
    return {**schema, "nullable": True} if nullable else schema


def column_schema(table: Any, column: Any, *, writing: bool = False, required: bool = False) -> dict[str, Any]:
    """The schema of `column` as returned (or, writing=True, as accepted: the forms' rules)."""
    kind = column.type
    nullable = column.nullable and not (writing and required)
    choices = CHOICE_COLUMNS.get((table.name, column.name)) or custom_choices(column)
    _encrypted, bands = encrypted_and_bands(table)
    foreign = next(iter(column.foreign_keys), None)
    if column.primary_key:
        return id_schema()
    if foreign is not None:
        return id_schema(foreign.column.table.name, column.nullable)
    if link_target(column) is not None:  # a custom link:<table> field
        return id_schema(link_target(column).__tablename__, column.nullable)
    if isinstance(kind, EncryptedAmount):
        return money_schema(nullable)
    schema: dict[str, Any]
    if choices:
        schema = {"type": "string", "enum": list(choices)}
    elif column.name in bands:
        schema = {"type": "integer", "minimum": 0, "maximum": len(BAND_LABELS) - 1,
                  "description": "Order of magnitude of the amount (0: under 1K ... 7: 1B and more)."}
    elif isinstance(kind, (Integer, SmallInteger)):
        schema = {"type": "integer", "minimum": -2**31, "maximum": 2**31 - 1}
    elif isinstance(kind, DateTime):
        schema = {"type": "string", "format": "date-time",
                  "description": "ISO 8601 in UTC with its offset (a value without an offset is read as UTC)."}
    elif isinstance(kind, Date):
        schema = {"type": "string", "format": "date"}
    elif isinstance(kind, Boolean):
        schema = {"type": "boolean"}
    elif isinstance(kind, Numeric):
        schema = {"type": "string", "format": "decimal"}
    elif isinstance(kind, JSONB):
        schema = {"type": "object"}
    elif isinstance(kind, (String, Text)):
        schema = text_schema(column, writing=writing, required=required)
    else:
        schema = {"type": "string"}
    return {**schema, "nullable": True} if nullable else schema


def text_schema(column: Any, *, writing: bool, required: bool) -> dict[str, Any]:
    """A text column: its length; written, no control characters and (required) not blank."""
    length = getattr(column.type, "length", None) or TEXT_MAX
    schema: dict[str, Any] = {"type": "string", "maxLength": length}
    if not writing:
        return schema
    schema["pattern"] = NOT_BLANK_TEXT if required else STORABLE_TEXT
    if column.name in FORMATS:
        schema["pattern"] = FORMATS[column.name] if required else f"{FORMATS[column.name]}|{OPTIONAL_BLANK}"
    if required:
        schema["minLength"] = 1
    return schema
