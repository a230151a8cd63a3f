"""Monthly partitions of `logs`: create ahead, empty the default partition, drop old months."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

SCHEMA = "audit"
DEFAULT = "logs_default"
COLUMNS = "log_id, user_id, action, description, created_at, table_name, record_key"
BOUND_RE = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass
class Partition:
    name: str
    start: dt.datetime
    end: dt.datetime


@dataclass
class MaintenanceResult:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    moved_rows: int = 0  # out of the default partition, into their months
    audited_tables: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.dropped or self.moved_rows or self.audited_tables)

    def summary(self) -> str:
        parts = [_listed("created", self.created),
                 f"moved {self.moved_rows or 'no'} row{'' if self.moved_rows == 1 else 's'} "
                 "out of the default partition",
                 _listed("dropped", self.dropped)]
        if self.audited_tables:
            parts.append(f"audit triggers added on {', '.join(self.audited_tables)}")
        return "; ".join(parts)


def _listed(verb: str, names: list[str]) -> str:
    if not names:
        return f"{verb} no partitions"
    return f"{verb} {len(names)} partition{'' if len(names) == 1 else 's'} ({', '.join(names)})"


# Not audited: the log itself, Alembic's bookkeeping, and sign-in state that changes on
# every request (sessions, rate-limit windows); sign-ins and sign-outs are logged as events;
# CSV files waiting for an import's confirmation (the import itself is logged, row by row).
# The scheduler's job state (every run updates it; the jobs log what they do).
# The webhooks' outbox (it holds copies of changed rows, which are audited themselves).
# API keys' last use (their first use each day is logged as an event).
# Bulk jobs' progress (every batch updates it; each row the job changes is logged, and the job once).
# The dashboard's facts and their refresh state (rebuilt whole every hour from audited rows).
NOT_AUDITED = ("logs", "alembic_version", "user_sessions", "login_rate_windows", "login_addresses",
               "csv_uploads", "scheduled_jobs", "webhook_deliveries", "api_key_uses", "bulk_jobs",
               "bulk_job_parts", "dashboard_facts", "dashboard_refresh")


def month_start(day: dt.date | dt.datetime) -> dt.date:
    return dt.date(day.year, day.month, 1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def partitions(conn: Connection) -> list[Partition]:
    """The monthly partitions of logs, oldest first (the default partition excluded)."""
    rows = conn.execute(text("""
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.logs'::regclass""")).all()
    found = []
    for name, bound in rows:
        match = BOUND_RE.search(bound or "")
        if match:
            found.append(Partition(name, *(dt.datetime.fromisoformat(v) for v in match.groups())))
    return sorted(found, key=lambda p: p.start)


def _rescue_default(conn: Connection) -> int:
    """Move rows that fell into the default partition into monthly partitions; returns their count.

    Rows are never updated or deleted: the default partition is detached, its rows
    are inserted again through `logs` (routed to their month), and the old table dropped.
    """
    if not conn.scalar(text(f"SELECT EXISTS (SELECT FROM {SCHEMA}.{DEFAULT})")):
        return 0
    conn.execute(text(f"ALTER TABLE logs DETACH PARTITION {SCHEMA}.{DEFAULT}"))
    conn.execute(text(f"ALTER TABLE {SCHEMA}.{DEFAULT} RENAME TO {DEFAULT}_rescued"))
    conn.execute(text(f"CREATE TABLE {SCHEMA}.{DEFAULT} PARTITION OF logs DEFAULT"))
    conn.execute(text(f"SELECT crm_logs_protect('{SCHEMA}.{DEFAULT}'::regclass)"))
    # months read after the detach: a row written meanwhile is moved too
    conn.execute(text(f"SELECT crm_logs_partition(m) FROM (SELECT DISTINCT date_trunc('month', created_at)::date "
                      f"AS m FROM {SCHEMA}.{DEFAULT}_rescued) AS months"))
    moved = conn.execute(text(f"INSERT INTO logs ({COLUMNS}) SELECT {COLUMNS} FROM {SCHEMA}.{DEFAULT}_rescued"))
    conn.execute(text(f"DROP TABLE {SCHEMA}.{DEFAULT}_rescued"))
    return moved.rowcount


def maintain(conn: Connection, *, ahead: int = 3, retention_months: int | None = None,
             since: dt.date | None = None, today: dt.date | None = None) -> MaintenanceResult:
    """Move rows out of the default partition, apply retention (None keeps all), then
    create partitions from `since`'s month (default: this one) to `ahead` months after this one.

    Runs as the table owner. Retention keeps this month and `retention_months` before it,
    and drops whole partitions: the only way rows ever leave `logs`. `since` is for rows
    about to be written back-dated (demo data, the seed): their months exist before they
    are, so none lands in the default partition; retention applies to them at the next run.
    """
    result = MaintenanceResult()
    this_month = month_start(today or utc_today())
    tables = conn.scalars(text("""
        SELECT c.oid::regclass::text FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
          AND c.relname <> ALL(:skip) ORDER BY 1"""), {"skip": list(NOT_AUDITED)}).all()
    result.audited_tables = [t for t in tables
                             if conn.scalar(text("SELECT crm_audit_enable(CAST(:t AS regclass))"), {"t": t})]
    before = {p.name for p in partitions(conn)}
    result.moved_rows = _rescue_default(conn)
    if retention_months is not None:
        cutoff = dt.datetime.combine(add_months(this_month, -retention_months), dt.time())
        for part in partitions(conn):
            if part.end <= cutoff:
                conn.execute(text(f'DROP TABLE {SCHEMA}."{part.name}"'))
                result.dropped.append(part.name)
    first = month_start(min(since, this_month)) if since else this_month
    month = first
    while month <= add_months(this_month, ahead):
        conn.execute(text("SELECT crm_logs_partition(:m)"), {"m": month})
        month = add_months(month, 1)
    # names are logs_YYYY_MM: sorted is oldest first
    result.created = sorted(({p.name for p in partitions(conn)} | set(result.dropped)) - before)
    if result.changed:
        conn.execute(text("INSERT INTO logs (action, description) VALUES ('logs maintain', :d)"), {
            "d": json.dumps({"created": result.created, "dropped": result.dropped,
                             "moved_rows": result.moved_rows, "audited_tables": result.audited_tables,
                             "retention_months": retention_months})})
    return result
