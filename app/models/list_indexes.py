"""The list screens' sort and filter indexes of migration 0010, declared so models and migrations agree.

Every sortable list column gets a B-tree on (column, primary key): the list's
ORDER BY column, key (FAB adds the key as tie-breaker) and its keyset pages
(app/lists/keyset.py) are index range scans at any depth, and an equality filter on a
choice column (status, stage, type, priority) reads its rows in key order. A
related list on a show page (a customer's activities, newest first) reads
(foreign key, sort column, key).
"""
from __future__ import annotations

from sqlalchemy import Index

# table -> columns sorted on its list screen (frozen in migration 0010; a test keeps them in step)
SORTED = {
    "customers": ["name", "industry", "location", "revenue_band", "updated_at"],
    "contacts": ["first_name", "last_name", "email", "phone", "position", "updated_at"],
    "leads": ["source", "status", "updated_at"],
    "opportunities": ["name", "stage", "value_band", "close_date", "updated_at"],
    "activities": ["type", "subject", "activity_date", "updated_at"],
    "service_tickets": ["subject", "status", "priority", "updated_at"],
}
# table -> (foreign key, its list's default sort columns) of the related lists on show pages
RELATED = {
    "contacts": [("customer_id", ["contact_id"])],
    "leads": [("contact_id", ["lead_id"])],
    "opportunities": [("customer_id", ["opportunity_id"])],
    "activities": [("customer_id", ["activity_date", "activity_id"]),
                   ("contact_id", ["activity_date", "activity_id"])],
    "service_tickets": [("customer_id", ["ticket_id"])],
}
# index -> columns it also carries (migration 0034): the activities' policy's columns, so that a scoped
# user's activities in date order and a deep page's keys, and the policy's test of each, come from the index
INCLUDED = {"ix_activities_customer_id_activity_date": ["contact_id"],
            "ix_activities_activity_date_sort": ["customer_id", "contact_id"]}
PRIMARY_KEYS = {"customers": "customer_id", "contacts": "contact_id", "leads": "lead_id",
                "opportunities": "opportunity_id", "activities": "activity_id", "service_tickets": "ticket_id"}


def index_columns() -> dict[str, list[str]]:
    """Index name -> its columns."""
    found = {}
    for table, columns in SORTED.items():
        for column in columns:
            found[f"ix_{table}_{column}_sort"] = (table, [column, PRIMARY_KEYS[table]])
    for table, keys in RELATED.items():
        for fk, order in keys:
            found[f"ix_{table}_{fk}_{order[0]}"] = (table, [fk, *order])
    return found


def _declare() -> None:
    from app.models.base import Model

    for name, (table, columns) in index_columns().items():
        t = Model.metadata.tables[table]
        Index(name, *(t.c[c] for c in columns), postgresql_include=INCLUDED.get(name, []))


_declare()
