"""Dates, times and numbers as the user's language writes them (Babel's CLDR data), in the user's time zone.

The time zone is the browser's: `crm.js` keeps it in the `crm_tz` cookie (an IANA name such
as "Asia/Shanghai"); without it, or with a name pytz does not know, `BABEL_DEFAULT_TIMEZONE`
(UTC). Stored times are UTC. Times show to the minute.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Any, Callable

import pytz
from babel import Locale
from babel.dates import format_datetime, get_month_names
from babel.dates import format_date as babel_date
from babel.dates import parse_pattern as parse_date_pattern
from babel.numbers import parse_pattern
from flask import Flask, has_request_context, request
from flask_babel import LazyString, format_decimal, get_locale, get_timezone, to_user_timezone
from markupsafe import Markup

from app.i18n.translations import gettext

from app.i18n.labels import choice_label

EMPTY = "—"
TZ_COOKIE = "crm_tz"
AMOUNT_FORMAT = "#,##0.00"
AMOUNT_PATTERN = parse_pattern(AMOUNT_FORMAT)  # parsed once: Babel parses a pattern string on every call
ENGLISH = Locale.parse("en")


def select_timezone() -> str | None:
    """The browser's time zone, or None for Flask-Babel's default (see the module docstring)."""
    wanted = request.cookies.get(TZ_COOKIE, "") if has_request_context() else ""
    return wanted if wanted in pytz.all_timezones_set else None


@cache
def datetime_pattern(locale: Locale, seconds: bool) -> str:
    """The language's medium date and a 24-hour time as one pattern: 'MMM d, y, HH:mm' / 'y年M月d日 HH:mm'."""
    return str(locale.datetime_formats["medium"]).format(
        "HH:mm:ss" if seconds else "HH:mm", locale.date_formats["medium"].pattern)


FIELD = re.compile(r"%\((\w+)\)s")  # a parsed pattern's fields: "%(MMM)s %(d)s, %(y)s"
NUMBER_FIELDS = {"d": "day", "H": "hour", "m": "minute", "s": "second", "y": "year", "M": "month"}
MONTH_WIDTHS = {3: "abbreviated", 4: "wide", 5: "narrow"}


@cache  # per pattern text and language: a handful
def compiled_pattern(text: str, locale: Locale) -> Callable[[Any], str]:
    """Babel's `parse_pattern(text).apply(value, locale)` for a list page's cells: its fields' writers found once.

    Babel looks each field up by name and builds a formatter object per value (about 25 calls
    a cell); the fields of the languages' medium dates and times (y, M, MMM, d, HH, mm, ss) are
    written here the way Babel writes them. Any other field: Babel's own `apply`.
    """
    pattern = parse_date_pattern(text)  # its format: "%(MMM)s %(d)s, %(y)s, %(HH)s:%(mm)s"
    names = FIELD.findall(pattern.format)
    fields = [_field_spec(name, locale) for name in names]
    if not names or any(spec is None for spec in fields):
        return lambda value: pattern.apply(value, locale)
    # one "%" of the value's attributes, read at once: not a writer call and a getattr per field
    pieces = iter(f"%0{width}d" if width else "%s" for _attribute, _names, width in fields)
    template = FIELD.sub(lambda _match: next(pieces), pattern.format)
    attributes = [attribute for attribute, _names, _width in fields]
    read = attrgetter(*attributes) if len(attributes) > 1 else lambda value: (getattr(value, attributes[0]),)
    lookups = tuple(month_names for _attribute, month_names, _width in fields)
    return lambda value: template % tuple([n[v] if n else v for v, n in zip(read(value), lookups)])


def _field_spec(name: str, locale: Locale) -> tuple[str, Any, int] | None:
    """One field of a pattern as Babel's DateTimeFormat writes it: (the value's attribute, the month names
    or None, the number's zero-padded width or 0); None for a field not written here."""
    char, width = name[0], len(name)
    if char in ("M", "L") and width in MONTH_WIDTHS:
        return "month", get_month_names(MONTH_WIDTHS[width], "format" if char == "M" else "stand-alone", locale), 0
    if char not in NUMBER_FIELDS or (char == "y" and width == 2):
        return None
    return NUMBER_FIELDS[char], None, width


def datetime_text(value: dt.datetime, seconds: bool = False) -> str:
    """'Nov 29, 2026, 14:05' / '2026年11月29日 14:05': the language's medium date, a 24-hour time, local time."""
    locale = get_locale() or ENGLISH
    return format_datetime(to_user_timezone(value), datetime_pattern(locale, seconds), locale=locale)


def amount_text(value: Decimal | int | float) -> str:
    """'7,150,063.00': an amount grouped as the user's language groups it."""
    return AMOUNT_PATTERN.apply(value, get_locale() or ENGLISH)


def show_value(value: Any) -> Any:
    """How a value reads on list and show pages."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, dt.datetime):
        return datetime_text(value)
    if isinstance(value, dt.date):
        return babel_date(value, "medium", locale=get_locale() or ENGLISH)
    if isinstance(value, Decimal):
        return amount_text(value)
    return value


def cell_text(value: Any) -> Any:
    """A list cell: empty for no value, Yes/No, dates and times to the minute, grouped amounts."""
    return "" if value is None or value == EMPTY else show_value(value)


class CellFormats:
    """`cell_text` with the language, time zone and patterns looked up once, for a page of cells.

    Flask-Babel finds the locale and time zone through a dozen context lookups per call; a list
    page formats a few hundred cells. Same texts as `cell_text` (Babel's own steps, done once).
    """

    def __init__(self) -> None:
        self.locale = get_locale() or ENGLISH
        self.timezone = get_timezone()
        self.datetime = compiled_pattern(datetime_pattern(self.locale, False), self.locale)
        self.date = compiled_pattern(self.locale.date_formats["medium"].pattern, self.locale)
        self.yes, self.no = gettext("Yes"), gettext("No")
        symbols = self.locale.number_symbols[self.locale.default_numbering_system]
        # where the language writes numbers with "," "." "-" (en, zh), Python's grouping gives the
        # pattern's text (compared on 20,000 amounts) in a tenth of Babel's time
        self.plain_numbers = (symbols["group"], symbols["decimal"], symbols["minusSign"]) == (",", ".", "-")

    def __call__(self, value: Any) -> Any:
        """cell_text(value)."""
        kind = type(value)
        if kind is str:
            return EMPTY if value == "" else "" if value == EMPTY else value
        if value is None:
            return ""
        if kind is bool:
            return self.yes if value else self.no
        if kind is dt.datetime:
            moment = value if value.tzinfo is not None else value.replace(tzinfo=pytz.UTC)
            return self.datetime(self.timezone.normalize(moment.astimezone(self.timezone)))
        if kind is dt.date:
            return self.date(value)
        if kind is Decimal:
            if self.plain_numbers and value.is_finite():
                return f"{value:,.2f}"
            return AMOUNT_PATTERN.apply(value, self.locale)
        if kind is int:
            return value
        if kind is LazyString:  # a choice's label: translated once (a lazy string is its own HTML, unescaped)
            text = str(value)
            return "" if text == EMPTY else EMPTY if text == "" else Markup(text)
        return cell_text(value)  # anything else (a lazy string, a subclass) as cell_text reads it


def init_formatting(app: Flask) -> None:
    app.extensions["babel"].timezone_selector = select_timezone
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.filters["crm_datetime"] = datetime_text
    app.jinja_env.filters["crm_number"] = lambda value: format_decimal(value, "#,##0.##")
    app.jinja_env.filters["crm_choice"] = choice_label  # a documented value: stage, status, priority
