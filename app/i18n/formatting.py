"""Dates, times and numbers as the user's language writes them (Babel's CLDR data)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.dates import format_time
from flask import Flask
from flask_babel import format_date, format_decimal, get_locale, get_timezone

from app.i18n.labels import choice_label

EMPTY = "—"


def datetime_text(value: dt.datetime, seconds: bool = False) -> str:
    """'Nov 29, 2026, 14:05' / '2026年11月29日 14:05': the language's medium date, a 24-hour time (UTC)."""
    locale = get_locale() or Locale.parse("en")
    time = format_time(value, "HH:mm:ss" if seconds else "HH:mm", tzinfo=get_timezone(), locale=locale)
    return str(locale.datetime_formats["medium"]).format(time, format_date(value, "medium"))


def show_value(value: Any) -> Any:
    """How a value reads on list and show pages."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, dt.datetime):
        return datetime_text(value)
    if isinstance(value, dt.date):
        return format_date(value, "medium")
    if isinstance(value, Decimal):
        return format_decimal(value, "#,##0.00")
    return value


def init_formatting(app: Flask) -> None:
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.filters["crm_datetime"] = datetime_text
    app.jinja_env.filters["crm_number"] = lambda value: format_decimal(value, "#,##0.##")
    app.jinja_env.filters["crm_choice"] = choice_label  # a documented value: stage, status, priority
