"""The acting user's data scope per table, as the row-level policies see it (migration 0026).

The policies decide which rows a statement sees; this says what the scope is, for what
must not come from whole-table figures: the planner's row estimates and the company-wide
report snapshots show only to a user who sees every row of the table. It also says whom a
user may give a record to (the policies' WITH CHECK, asked before a write), and adds the
policies' condition to a list's query in a form an index serves (`owned_in_scope`,
`followed_in_scope`).
"""
from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import ARRAY, ColumnElement, Select, String, any_, case, exists, func, literal, select

from app.audit.context import current_actor
from app.extensions import db
from app.lists import reads_ahead
from app.models import Activity, Customer
from app.models.ownership import OWNED_TABLES

FOLLOWERS = {"contacts": "customers", "activities": "customers"}  # tables whose rows follow their customer's
# an activity with a contact and no customer: the policy shows it through its contact (migration 0026)
CONTACTLESS = exists().where(Activity.customer_id.is_(None))


def _sight_statement() -> Select:
    """Each owned table, the user's scope on it and the owners they see there (None where they see all)."""
    tables = select(func.unnest(literal(list(OWNED_TABLES), ARRAY(String))).column_valued("t")).subquery()
    # OFFSET 0 keeps each scope one call; the owners are read only where the user does not see all
    scopes = select(tables.c.t, func.crm_data_scope(tables.c.t).label("scope")).offset(0).subquery()
    return select(scopes.c.t, scopes.c.scope, case((scopes.c.scope != "all", func.crm_visible_owner_ids(scopes.c.t))))


# built once: built per request, the statement cost more of the app's time than the round trips it saves
SIGHT = _sight_statement()
SIGHT_AND_CONTACTLESS = SIGHT.add_columns(CONTACTLESS)



def sight_columns(acting: ColumnElement, activities: bool) -> tuple[ColumnElement, ...]:
    """The sight as a column of another statement (json: [[table, scope, owners], ...]), and with
    `activities` whether any visible activity lacks a customer.

    `acting` sets the acting user (a set_config call): each column evaluates it first, in a CASE,
    whose branches PostgreSQL evaluates in order: the policies' functions then read that user."""
    rows = SIGHT.subquery()
    folded = select(func.json_agg(func.json_build_array(*rows.c))).scalar_subquery()
    first = acting.isnot(None)
    columns = (case((first, folded)).label("sight"),)
    return columns + ((case((first, CONTACTLESS)).label("contactless"),) if activities else ())


def keep_sight(actor_id: str, rows: list[list[Any]], contactless: bool | None) -> None:
    """Keep the sight `sight_columns` read as user `actor_id` (and whether any activity lacks a customer):
    `sight` takes it if that user still acts when it is first asked (an API key or token may act
    instead of the session's user)."""
    g.crm_sight_read = (actor_id, {table: (scope, list(owners or ())) for table, scope, owners in rows},
                        contactless)


def sight(activities: bool = False) -> dict[str, tuple[str | None, list[int]]]:
    """{owned table: (the acting user's scope, the owners they see)}, as the policies' own functions say.

    One statement for every owned table, once per request (the user does not change within it):
    a list asks for its table's scope and owners, the dashboard for all four. `activities`: the
    request lists activities, so the same statement answers `contactless_activities` too."""
    memo = g.get("crm_sight")
    if memo is None and "crm_sight_read" in g:
        actor_id, read, contactless = g.pop("crm_sight_read")
        if actor_id == current_actor()[0]:
            memo = g.crm_sight = read
            if contactless is not None:
                remember_contactless(contactless)
    if memo is None:
        reads_ahead.learn(reads_ahead.SIGHT, bool(reads_ahead.learnt(reads_ahead.SIGHT)) or activities)
        rows = db.session.execute(SIGHT_AND_CONTACTLESS if activities else SIGHT).all()
        memo = g.crm_sight = {table: (scope, list(owners or ())) for table, scope, owners, *_ in rows}
        if activities:
            remember_contactless(rows[0][3])
    return memo


def _sight_of(table: str) -> tuple[str | None, list[int]] | None:
    """(scope, owners) of an owned table, or of a follower table's customers; None for a table without owners."""
    owned = FOLLOWERS.get(table, table)
    return sight(activities=table == "activities")[owned] if owned in OWNED_TABLES else None


def data_scope(table: str) -> str | None:
    """'own', 'team' or 'all' for the acting user; None without a user; 'all' for a table without owners."""
    found = _sight_of(table)
    return "all" if found is None else found[0]


def sees_all(table: str) -> bool:
    """Whether the acting user sees every row of `table` (and so whole-table figures are theirs to see)."""
    return data_scope(table) == "all"


def sees_all_records() -> bool:
    """Whether the acting user sees every owned record: company-wide figures (report snapshots) are theirs."""
    return all(sees_all(table) for table in OWNED_TABLES)


def visible_owners(table: str) -> list[int] | None:
    """The owners whose records the acting user sees on `table` (its customer's, for a follower table);
    None when the user sees every row, or nothing at all (no user)."""
    found = _sight_of(table)
    return None if found is None or found[0] in ("all", None) else found[1]


def ownable(table: str, owner_ids: set[int]) -> set[int]:
    """The owners among `owner_ids` whom the acting user may give records of `table` to, as the policies'
    WITH CHECK decides: anyone with scope "all", else the owners whose records the user sees (one query)."""
    if not owner_ids or sees_all(table):
        return set(owner_ids)
    return set(owner_ids) & set(visible_owners(table) or ())


def owned_in_scope(model: type) -> Any:
    """The rows of an owned table the row-level policy shows the acting user, as an indexable condition;
    None when there is nothing to add (the user sees all, or the table has no owner).

    The policy alone is `sees_all OR owner_id = ANY(...)`: an OR, which no index serves, so a rep's list
    scans the table until enough rows pass (a capped count: the whole table). Added to a list's own
    query (the policy still decides), the rows are ranges of the (owner_id, key) index.
    """
    owners = visible_owners(model.__tablename__)
    return model.owner_id.in_(owners) if owners is not None and model.__tablename__ in OWNED_TABLES else None


def followed_in_scope(model: type, listed: bool = False) -> Any:
    """As `owned_in_scope`, for contacts and activities: a semi-join from the user's customers (their owner
    index) to the rows' customer index. For counts (a rep's capped count at scale 1: 18 s and 45 s ->
    0.1 s, docs/performance.md); a page of the newest rows is found faster by its sort index with the
    policy's hash of the user's customers (migration 0027).

    `listed`: the customers' keys as one array, read once (an InitPlan), for reading all of the user's
    rows (a deep page sorts every one). Joined row by row, the planner tests each row's policy with
    its own probe of customers; given the array it hashes the user's customers for the policy once
    (a rep's 33,021 activities at scale 1: 141,000 buffers and 64 ms -> 42,500 and 32 ms)."""
    owners = visible_owners(model.__tablename__)
    if owners is None or model.__tablename__ not in FOLLOWERS or (model is Activity and contactless_activities()):
        return None
    customers = select(Customer.customer_id).where(Customer.owner_id.in_(owners))
    if listed:
        return model.customer_id == any_(func.array(customers.scalar_subquery()))
    return model.customer_id.in_(customers)


def contactless_activities(ask: bool = True) -> bool | None:
    """Whether any activity the user sees has no customer (its contact's decides): then the customers'
    semi-join would leave it out, and `followed_in_scope` adds none. Not `ask`ed: None if not known yet.

    Asked of the database as the user, once per request, and no sooner: the policies decide what the
    user sees, and anyone may add an activity with only a contact at any time, which a memo kept for
    longer would miss. An activities request asks in its `sight` statement, with no round trip more,
    as does a scoped user's search (app/search/scoped.py): each gives the answer to `remember_contactless`."""
    known = g.get("crm_contactless")  # this request's answer: only this function and the next use the name
    if known is None and ask:  # the request read the sight for another table first
        known = remember_contactless(db.session.scalar(select(CONTACTLESS)))
    return known


def remember_contactless(contactless: Any) -> bool:
    """Keep `contactless_activities`' answer, read by a statement that asked it (CONTACTLESS) with others."""
    g.crm_contactless = known = bool(contactless)
    return known


def may_own(table: str, owner_id: int | None) -> bool:
    """Whether the acting user may give a record of `table` to `owner_id` (None: unowned, seen only by "all")."""
    return sees_all(table) if owner_id is None else owner_id in ownable(table, {owner_id})
