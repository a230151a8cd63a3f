"""The acting user's data scope per table, as the row-level policies see it (migration 0026).

The policies decide which rows a statement sees; this says what the scope is, for what
must not come from whole-table figures: the planner's row estimates and the company-wide
report snapshots show only to a user who sees every row of the table.
"""
from __future__ import annotations

from flask import g
from sqlalchemy import func, select

from app.extensions import db
from app.models.ownership import OWNED_TABLES

FOLLOWERS = {"contacts": "customers", "activities": "customers"}  # tables whose rows follow their customer's


def data_scope(table: str) -> str | None:
    """'own', 'team' or 'all' for the acting user; None without a user; 'all' for a table without owners."""
    table = FOLLOWERS.get(table, table)
    if table not in OWNED_TABLES:
        return "all"
    memo = g.setdefault("crm_data_scopes", {})  # once per request: the user does not change within it
    if table not in memo:
        memo[table] = db.session.scalar(select(func.crm_data_scope(table)))
    return memo[table]


def sees_all(table: str) -> bool:
    """Whether the acting user sees every row of `table` (and so whole-table figures are theirs to see)."""
    return data_scope(table) == "all"


def sees_all_records() -> bool:
    """Whether the acting user sees every owned record: company-wide figures (report snapshots) are theirs."""
    return all(sees_all(table) for table in OWNED_TABLES)


def ownable(table: str, owner_ids: set[int]) -> set[int]:
    """The owners among `owner_ids` whom the acting user may give records of `table` to, as the policies'
    WITH CHECK decides: anyone with scope "all", else the owners whose records the user sees (one query)."""
    if not owner_ids or sees_all(table):
        return set(owner_ids)
    return set(owner_ids) & set(db.session.scalar(select(func.crm_visible_owner_ids(table))) or ())


def may_own(table: str, owner_id: int | None) -> bool:
    """Whether the acting user may give a record of `table` to `owner_id` (None: unowned, seen only by "all")."""
    return sees_all(table) if owner_id is None else owner_id in ownable(table, {owner_id})
