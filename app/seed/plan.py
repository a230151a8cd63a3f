"""How many rows a scale means, and which scales are refused."""
from __future__ import annotations

import datetime as dt

# rows per unit of scale: scale 1 = about 1M customers, 10M activities and 20M audit log rows
ROWS_PER_SCALE: dict[str, int] = {
    "customers": 1_000_000, "contacts": 2_000_000, "leads": 1_000_000, "opportunities": 2_000_000,
    "activities": 10_000_000, "service_tickets": 1_000_000, "logs": 20_000_000}
TABLES = ("customers", "contacts", "leads", "opportunities", "activities", "service_tickets", "logs")
PRIMARY_KEYS = {"customers": "customer_id", "contacts": "contact_id", "leads": "lead_id",
                "opportunities": "opportunity_id", "activities": "activity_id",
                "service_tickets": "ticket_id", "logs": "log_id"}
MIN_SCALE = 0.0001  # 100 customers: below that a scale is a typo
MAX_SCALE = 10.0    # 370M rows, ~150 GB: beyond that a scale is a typo too
BYTES_PER_SCALE = 16 * 10**9  # tables, indexes and WAL of S=1, measured, rounded up
YEARS = 5  # dates spread over the last five years


class ScaleError(ValueError):
    """A scale that cannot be loaded (the message says why)."""


def counts_for_scale(scale: float) -> dict[str, int]:
    """Rows per table for a scale (every table gets at least one row)."""
    check_scale(scale)
    return {table: max(1, round(ROWS_PER_SCALE[table] * scale)) for table in TABLES}


def check_scale(scale: float) -> None:
    if not scale == scale or not MIN_SCALE <= scale <= MAX_SCALE:  # NaN compares unequal
        raise ScaleError(f"--scale must be between {MIN_SCALE:g} and {MAX_SCALE:g} "
                         f"(1 = about 1M customers and 37M rows in all), not {scale:g}")


def needed_bytes(scale: float) -> int:
    return int(BYTES_PER_SCALE * scale)


def first_date() -> dt.datetime:
    """The oldest date a seed run writes (UTC, naive): YEARS before now."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    return now - dt.timedelta(days=round(YEARS * 365.25))
