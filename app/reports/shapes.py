"""The documented shape of a report snapshot (JSON Schemas in schemas/), checked on every write and every read.

Writes (generators, demo data, the reports screen, any ORM write) are refused
with `SnapshotRefused`; readers ask `problem()` and skip what cannot be drawn.
"""
from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from flask_babel import gettext as _
from wtforms import ValidationError

SCHEMAS = Path(__file__).with_name("schemas")
KNOWN_TYPES = frozenset(p.stem for p in SCHEMAS.glob("*.json"))


class SnapshotRefused(ValueError):
    """A snapshot that must not be stored; the message is safe to show."""


@lru_cache(maxsize=None)
def schema(report_type: str) -> dict:
    return json.loads((SCHEMAS / f"{report_type}.json").read_text())


@lru_cache(maxsize=None)
def _validator(report_type: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(report_type), format_checker=jsonschema.FormatChecker())


def validate(report_type: str, data: Any) -> None:
    """Raise jsonschema.ValidationError when `data` does not have the documented shape."""
    _validator(report_type).validate(data)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def future_date(when: dt.datetime) -> str | None:
    """The refusal of a snapshot dated later than now (UTC), or None."""
    if when <= utc_now():
        return None
    return _("A snapshot cannot be dated in the future (%(when)s UTC).", when=f"{when:%Y-%m-%d %H:%M:%S}")


def problem(report_type: str, data: Any, generated_at: dt.datetime | None = None) -> str | None:
    """Why a snapshot cannot be stored or drawn (translated), or None when it can."""
    if report_type not in KNOWN_TYPES:
        return _("Unknown report type: %(type)s.", type=str(report_type)[:80])
    if generated_at is not None and future_date(generated_at):
        return future_date(generated_at)
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError):
        return _("The data is not valid JSON (NaN and Infinity are not numbers).")
    except RecursionError:
        return _("The JSON body is nested too deeply.")
    error = jsonschema.exceptions.best_match(_validator(report_type).iter_errors(data))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "/"
    return _("The data is not a valid %(type)s snapshot (at %(where)s: %(error)s).",
             type=report_type, where=where, error=error.message[:200])


def check(report_type: str, data: Any, generated_at: dt.datetime | None = None) -> None:
    """Raise SnapshotRefused unless the snapshot may be stored."""
    reason = problem(report_type, data, generated_at)
    if reason:
        raise SnapshotRefused(reason)


# ---------------------------------------------------------------- form validators
class SnapshotShape:
    """The JSON field holds a valid snapshot of the form's report type."""

    def __call__(self, form: Any, field: Any) -> None:
        report_type = form.report_type.data if "report_type" in form else None
        if field.data is None or report_type not in KNOWN_TYPES:
            return  # the JSON field's own error, or the report type's
        reason = problem(report_type, field.data)
        if reason:
            raise ValidationError(reason)


class NotInFuture:
    """A snapshot's date is not later than now (UTC)."""

    def __call__(self, form: Any, field: Any) -> None:
        reason = future_date(field.data) if field.data is not None else None
        if reason:
            raise ValidationError(reason)
