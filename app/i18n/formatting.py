"""Dates, times and numbers as the user's language writes them (Babel's CLDR data), in the user's time zone.

The time zone is the browser's: `crm.js` keeps it in the `crm_tz` cookie (an IANA name such
as "Asia/Shanghai"); without it, or with a name pytz does not know, `BABEL_DEFAULT_TIMEZONE`
(UTC). Stored times are UTC. Times show to the minute.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any

import pytz
from babel import Locale
from babel.dates import format_date as babel_date
from babel.dates import format_datetime
from babel.numbers import parse_pattern
from flask import Flask, has_request_context, request
from flask_babel import format_decimal, get_locale, to_user_timezone

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


def init_formatting(app: Flask) -> None:
    app.extensions["babel"].timezone_selector = select_timezone
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.filters["crm_datetime"] = datetime_text
    app.jinja_env.filters["crm_number"] = lambda value: format_decimal(value, "#,##0.##")
    app.jinja_env.filters["crm_choice"] = choice_label  # a documented value: stage, status, priority
