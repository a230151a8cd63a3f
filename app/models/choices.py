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
# a customer's industry (optional; migration 0028): stored as its English name, as the seed wrote them,
# shown in the user's language as the other values are
INDUSTRIES = ("Technology", "Manufacturing", "Retail", "Healthcare", "Finance", "Logistics", "Energy",
              "Education", "Other")
# words for an industry that are not its value or its label: what customers held as free text before 0028,
# and what an imported file may say (matched case-insensitively)
INDUSTRY_ALIASES: dict[str, str] = {
    "internet": "Technology", "software": "Technology", "it": "Technology", "互联网": "Technology",
    "软件": "Technology", "科技": "Technology", "制造业": "Manufacturing", "制造": "Manufacturing",
    "零售": "Retail", "医疗": "Healthcare", "health": "Healthcare", "金融": "Finance", "banking": "Finance",
    "物流": "Logistics", "能源": "Energy", "教育": "Education", "其他": "Other",
}

# (table, column) -> allowed values; the migration and the forms both read this.
CHOICE_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("leads", "status"): LEAD_STATUSES,
    ("opportunities", "stage"): OPPORTUNITY_STAGES,
    ("service_tickets", "status"): TICKET_STATUSES,
    ("service_tickets", "priority"): PRIORITIES,
    ("activities", "type"): ACTIVITY_TYPES,
    ("customers", "industry"): INDUSTRIES,
}


def check_sql(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK constraint that admits only `values` in `column`."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"

# How long a ticket of each priority may stay open (days since it was opened) before it is overdue:
# the dashboard's "past their priority window" counts open tickets older than this.
PRIORITY_WINDOW_DAYS: dict[str, int] = {"urgent": 1, "high": 3, "medium": 7, "low": 14}
