"""The dashboard's pre-aggregated figures: rebuilt whole from the CRM tables by the reports job and "Refresh now".

Counts and sums of whole days are grouped in SQL per (day, owner, dimensions); money is
streamed as ciphertext and summed in integer cents in Python (as the report scans do),
then sealed again per fact row with the key ring: the associated data is the row's natural
key, so a sum copied to another row does not decrypt. Every group also gets a month row,
a company-wide row (holder -1) and its owner's team's row (holder -1 - team id; the members
are kept in dashboard_refresh.teams), so a request reads a few hundred rows, not millions.
The rows are replaced in one transaction: readers see the old set until it commits.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterator

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.encryption.keyring import KeyRing
from app.models.dashboard import EVERYONE, UNOWNED, team_holder

TABLE, COLUMN = "dashboard_facts", "amount"
BATCH = 20_000
Key = tuple[dt.date, int, str, str]  # (day, holder, k1, k2)


@dataclass(frozen=True)
class Metric:
    """One fact metric: its source table (whose data scope shows it) and the SQL of its groups."""

    name: str
    source: str
    counts: str  # SELECT day, holder, k1, k2, n, days
    amounts: str | None = None  # SELECT pk, envelope, day, holder, k1, k2 (rows with an amount)


HOLDER = f"coalesce(owner_id, {UNOWNED})"
METRICS = (
    Metric("opportunities", "opportunities",
           f"SELECT close_date, {HOLDER}, stage, '', count(*), sum(close_date - CAST(created_at AS date)) "
           "FROM opportunities WHERE close_date IS NOT NULL GROUP BY 1, 2, 3",
           f"SELECT opportunity_id, value, close_date, {HOLDER}, stage, '' FROM opportunities "
           "WHERE close_date IS NOT NULL AND value IS NOT NULL"),
    Metric("leads", "leads",
           f"SELECT CAST(created_at AS date), {HOLDER}, status, '', count(*), NULL FROM leads GROUP BY 1, 2, 3"),
    Metric("tickets", "service_tickets",
           f"SELECT CAST(created_at AS date), {HOLDER}, status, priority, count(*), NULL FROM service_tickets "
           "GROUP BY 1, 2, 3, 4"),
    # an activity follows its customer (or its contact's), as the row-level policies do
    Metric("activities", "customers",
           f"SELECT CAST(a.activity_date AS date), coalesce(c.owner_id, {UNOWNED}), a.type, '', count(*), NULL "
           "FROM activities AS a LEFT JOIN customers AS c ON c.customer_id = coalesce(a.customer_id, "
           "(SELECT p.customer_id FROM contacts AS p WHERE p.contact_id = a.contact_id)) GROUP BY 1, 2, 3"),
    Metric("customers", "customers",
           f"SELECT CAST(created_at AS date), {HOLDER}, coalesce(industry, ''), '', count(*), NULL "
           "FROM customers GROUP BY 1, 2, 3",
           f"SELECT customer_id, revenue, CAST(created_at AS date), {HOLDER}, coalesce(industry, ''), '' "
           "FROM customers WHERE revenue IS NOT NULL"),
)
METRIC_SOURCES = {m.name: m.source for m in METRICS}


def place(metric: str, grain: str, key: Key) -> str:
    """A fact row's natural key: the sealed sum's associated data."""
    day, holder, k1, k2 = key
    return f"{metric}/{grain}/{holder}/{day.isoformat()}/{k1}/{k2}"


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _groups(conn: psycopg.Connection, ring: KeyRing, metric: Metric) -> dict[Key, list]:
    """{(day, holder, k1, k2): [n, days, cents or None]} of one metric."""
    groups: dict[Key, list] = {tuple(row[:4]): [row[4], row[5], None] for row in conn.execute(metric.counts)}
    if metric.amounts:
        totals: dict = {}
        table = metric.source
        column = "value" if table == "opportunities" else "revenue"
        with conn.cursor(name=f"facts_{metric.name}", binary=True) as cursor:
            cursor.execute(metric.amounts)
            while batch := cursor.fetchmany(BATCH):
                ring.sum_cents(((row[0], row[1], tuple(row[2:])) for row in batch), table, column, totals)
        for key, cents in totals.items():
            groups[key][2] = cents
    return groups


def _rolled(groups: dict[Key, list], teams: dict[int, int]) -> Iterator[tuple[str, Key, list]]:
    """Each day group, and the month, company-wide (holder -1) and team rows summed from them.

    `teams`: {owner: team id} of the owners in a team."""
    sums: dict[tuple[str, Key], list] = {}
    for key, (n, days, cents) in groups.items():
        day, holder, k1, k2 = key
        yield "d", key, [n, days, cents]
        month = month_of(day)
        places = [("d", (day, EVERYONE, k1, k2)), ("m", (month, holder, k1, k2)), ("m", (month, EVERYONE, k1, k2))]
        if holder in teams:
            team = team_holder(teams[holder])
            places += [("d", (day, team, k1, k2)), ("m", (month, team, k1, k2))]
        for wider in places:
            total = sums.setdefault(wider, [0, None, None])
            total[0] += n
            if days is not None:
                total[1] = (total[1] or 0) + days
            if cents is not None:
                total[2] = (total[2] or 0) + cents
    for (grain, key), total in sums.items():
        yield grain, key, total


def _index_order(row: tuple[str, Key, list]) -> tuple:
    grain, (day, holder, k1, k2), _sums = row
    return grain, holder, day, k1, k2


def _copy_rows(ring: KeyRing, metric: Metric, groups: dict[Key, list], teams: dict[int, int]) -> Iterator[tuple]:
    # in the primary key's order: a holder's range of days is then a few adjacent pages, not a page per row
    for grain, key, (n, days, cents) in sorted(_rolled(groups, teams), key=_index_order):
        sealed = None if cents is None else ring.encrypt(Decimal(cents) / 100, TABLE, COLUMN,
                                                         place(metric.name, grain, key))  # type: ignore[arg-type]
        day, holder, k1, k2 = key
        yield metric.name, grain, holder, day, k1, k2, metric.source, n, days, sealed


def _members(conn: psycopg.Connection, teams: dict[int, int] | None) -> None:
    """dashboard_refresh.teams: {team id: [member ids]} of the team rows (None: none to trust)."""
    members: dict[str, list[int]] | None = None if teams is None else {}
    for user, team in sorted((teams or {}).items()):
        members.setdefault(str(team), []).append(user)  # type: ignore[union-attr]
    with conn.transaction():
        conn.execute("UPDATE dashboard_refresh SET teams = %s WHERE refresh_id = 1",
                     [None if members is None else Jsonb(members)])


def rebuild(engine: Engine, ring: KeyRing, step: Callable[[str], None] | None = None) -> int:
    """Replace every fact row with figures read now from one snapshot of the data; the number of rows written.

    `engine` must see every row (the owner role). `step(metric)` is called after each metric's read.
    """
    pooled = engine.raw_connection()
    conn: psycopg.Connection = pooled.driver_connection
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        written = 0
        # the teams' members are set once the new rows are in: until then no reader trusts any team's rows
        # (set apart from the rows' transaction: the progress writer updates the same row meanwhile)
        _members(conn, None)
        with conn.transaction():
            # one snapshot for the reads (repeatable read); the old rows stay visible to readers until commit
            conn.execute("DELETE FROM dashboard_facts")
            teams = dict(conn.execute("SELECT user_id, team_id FROM users WHERE team_id IS NOT NULL").fetchall())
            for metric in METRICS:
                groups = _groups(conn, ring, metric)
                with conn.cursor().copy("COPY dashboard_facts (metric, grain, holder, day, k1, k2, source, n, "
                                        "days, amount) FROM STDIN") as copy:
                    for row in _copy_rows(ring, metric, groups, teams):
                        copy.write_row(row)
                        written += 1
                if step:
                    step(metric.name)
        _members(conn, teams)
        # the old set is dead rows now: reclaim them and give the planner the new set's statistics
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE) dashboard_facts")
        return written
    finally:
        conn.autocommit = False
        pooled.close()


def progress(engine: Engine) -> Callable[..., None]:
    """A progress writer for the refresh's one state row: start(steps), step(message), finish(message)."""
    def write(**values) -> None:
        sets = ", ".join(f"{k} = :{k}" for k in values)
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE dashboard_refresh SET {sets} WHERE refresh_id = 1"), values)
    return write
