"""Documented values for status, stage, priority and type columns.

One source for the CHECK constraints (migrations), the form dropdowns and the
demo data. Stored values are the English words; labels are translated in the UI.
"""
from __future__ import annotations

LEAD_STATUSES = ("new", "following up", "qualified", "converted", "lost")
OPPORTUNITY_STAGES = ("initial", "qualification", "proposal", "negotiation", "won", "lost")
TICKET_STATUSES = ("open", "in progress", "resolved", "closed")
PRIORITIES = ("low", "medium", "high", "urgent")
ACTIVITY_TYPES = ("call", "meeting", "email", "visit", "other")

# (table, column) -> allowed values; the migration and the forms both read this.
CHOICE_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("leads", "status"): LEAD_STATUSES,
    ("opportunities", "stage"): OPPORTUNITY_STAGES,
    ("service_tickets", "status"): TICKET_STATUSES,
    ("service_tickets", "priority"): PRIORITIES,
    ("activities", "type"): ACTIVITY_TYPES,
}


def check_sql(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK constraint that admits only `values` in `column`."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"

# How long a ticket of each priority may stay open (days since it was opened) before it is overdue:
# the dashboard's "past their priority window" counts open tickets older than this.
PRIORITY_WINDOW_DAYS: dict[str, int] = {"urgent": 1, "high": 3, "medium": 7, "low": 14}
