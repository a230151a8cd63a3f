"""Amounts typed as the app shows them: '12,500,000.50' in the user's language's grouping, or plain digits.

One rule for the forms and the CSV import (both read amounts through `AmountField`,
app/crud/forms.py). Groups are of three digits; a space or no-break space also separates
groups (as spreadsheets export them). Anything else is refused, never guessed.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from babel import Locale
from babel.numbers import get_decimal_symbol, get_group_symbol
from flask_babel import get_locale

SPACES = (" ", "\u00a0", "\u202f")


def symbols() -> tuple[str, str]:
    """(group, decimal) symbols of the user's language."""
    locale = get_locale() or Locale.parse("en")
    return get_group_symbol(locale), get_decimal_symbol(locale)


def parse_amount(text: str) -> Decimal | None:
    """'12,500,000' -> Decimal('12500000'); '' -> None; ValueError for anything that is not an amount."""
    text = (text or "").strip()
    if not text:
        return None
    group, point = symbols()
    separators = "".join(re.escape(s) for s in dict.fromkeys((group, *SPACES)) if s != point)
    grouped = rf"\d{{1,3}}(?:[{separators}]\d{{3}})+"
    match = re.fullmatch(rf"([-+]?)(\d+|{grouped})(?:{re.escape(point)}(\d+))?", text)
    if not match:
        raise ValueError(text)
    digits = re.sub(rf"[{separators}]", "", match[2])
    try:
        return Decimal(match[1] + digits + (f".{match[3]}" if match[3] else ""))
    except InvalidOperation:  # pragma: no cover (the pattern admits digits only)
        raise ValueError(text) from None
