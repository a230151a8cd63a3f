"""The REST API's value types: timestamps in UTC with their offset, amounts as decimal strings.

What the OpenAPI document declares for these columns (app/crud/openapi.py) is what
these fields accept and return, so a client generated from the document works.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from marshmallow import ValidationError, fields

# An amount of numeric(18, 2): 0 to 9999999999999999.99, at most two decimals, no sign, no leading zeros.
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,15})(\.[0-9]{1,2})?$"
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)


class UtcDateTime(fields.DateTime):
    """ISO 8601 in and out; stored naive in UTC, returned with `+00:00`.

    A value with an offset is converted to UTC; one without is taken as UTC.
    """

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.datetime:
        if not isinstance(value, str):
            raise ValidationError(_("Not a valid date and time (ISO 8601, e.g. 2026-11-20T10:00:00Z)."))
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(_("Not a valid date and time (ISO 8601, e.g. 2026-11-20T10:00:00Z).")) from None
        if parsed.tzinfo is not None:
            try:
                parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
            except OverflowError:
                raise ValidationError(_("The date is out of range.")) from None
        return parsed


class AmountString(fields.Field):
    """An amount as a decimal string ("1234.50"): exact, never a binary float."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{Decimal(value):.2f}"

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str) or not _AMOUNT_RE.fullmatch(value):
            raise ValidationError(_('Enter the amount as a decimal string from "0" to "9999999999999999.99" '
                                    'with at most two decimals, e.g. "1234.50".'))
        return Decimal(value)
