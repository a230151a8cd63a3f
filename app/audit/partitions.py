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
    rescued_rows: int = 0
    audited_tables: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.dropped or self.rescued_rows or self.audited_tables)

    def summary(self) -> str:
        parts = [f"created {', '.join(self.created) or 'no partitions'}",
                 f"dropped {', '.join(self.dropped) or 'none'}"]
        if self.rescued_rows:
            parts.append(f"moved {self.rescued_rows} rows out of the default partition")
        if self.audited_tables:
            parts.append(f"audit triggers added on {', '.join(self.audited_tables)}")
        return "; ".join(parts)



# Not audited: the log itself, Alembic's bookkeeping, and sign-in state that changes on
# every request (sessions, rate-limit windows); sign-ins and sign-outs are logged as events;
# CSV files waiting for an import's confirmation (the import itself is logged, row by row).
NOT_AUDITED = ("logs", "alembic_version", "user_sessions", "login_rate_windows", "login_addresses",
               "csv_uploads")


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
    """Move rows that fell into the default partition into monthly partitions.

    Rows are never updated or deleted: the default partition is detached, its rows
    are inserted again through `logs` (routed to their month), and the old table dropped.
    """
    (count,), = conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.{DEFAULT}")).all()
    if not count:
        return 0
    months = conn.scalars(text(f"SELECT DISTINCT date_trunc('month', created_at)::date FROM {SCHEMA}.{DEFAULT}"))
    conn.execute(text(f"ALTER TABLE logs DETACH PARTITION {SCHEMA}.{DEFAULT}"))
    conn.execute(text(f"ALTER TABLE {SCHEMA}.{DEFAULT} RENAME TO {DEFAULT}_rescued"))
    conn.execute(text(f"CREATE TABLE {SCHEMA}.{DEFAULT} PARTITION OF logs DEFAULT"))
    conn.execute(text(f"SELECT crm_logs_protect('{SCHEMA}.{DEFAULT}'::regclass)"))
    for month in list(months):
        conn.execute(text("SELECT crm_logs_partition(:m)"), {"m": month})
    conn.execute(text(f"INSERT INTO logs ({COLUMNS}) SELECT {COLUMNS} FROM {SCHEMA}.{DEFAULT}_rescued"))
    conn.execute(text(f"DROP TABLE {SCHEMA}.{DEFAULT}_rescued"))
    return count


def maintain(conn: Connection, *, ahead: int = 3, retention_months: int | None = None,
             today: dt.date | None = None) -> MaintenanceResult:
    """Create partitions up to `ahead` months after this one, apply retention (None keeps all).

    Runs as the table owner. Retention keeps this month and `retention_months` before it,
    and drops whole partitions: the only way rows ever leave `logs`.
    """
    result = MaintenanceResult()
    this_month = month_start(today or utc_today())
    tables = conn.scalars(text("""
        SELECT c.oid::regclass::text FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
          AND c.relname <> ALL(:skip) ORDER BY 1"""), {"skip": list(NOT_AUDITED)}).all()
    result.audited_tables = [t for t in tables
                             if conn.scalar(text("SELECT crm_audit_enable(CAST(:t AS regclass))"), {"t": t})]
    result.rescued_rows = _rescue_default(conn)
    existing = {p.name for p in partitions(conn)}
    for offset in range(ahead + 1):
        name = conn.scalar(text("SELECT crm_logs_partition(:m)"), {"m": add_months(this_month, offset)})
        if name not in existing:
            result.created.append(name)
    if retention_months is not None:
        cutoff = dt.datetime.combine(add_months(this_month, -retention_months), dt.time())
        for part in partitions(conn):
            if part.end <= cutoff:
                conn.execute(text(f'DROP TABLE {SCHEMA}."{part.name}"'))
                result.dropped.append(part.name)
    if result.changed:
        conn.execute(text("INSERT INTO logs (action, description) VALUES ('logs maintain', :d)"), {
            "d": json.dumps({"created": result.created, "dropped": result.dropped,
                             "rescued_rows": result.rescued_rows, "audited_tables": result.audited_tables,
                             "retention_months": retention_months})})
    return result
