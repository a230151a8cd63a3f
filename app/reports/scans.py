"""The table scans behind the reports: one pass per table and kind, shared by every report that reads it.

Counts are grouped in SQL (GROUP BY, GROUPING SETS, date_trunc). Amounts are
ciphertext, so an encrypted table is streamed once as (pk, envelope, group key)
through a server-side cursor and summed in integer cents by
`KeyRing.sum_cents` (no ORM objects, no Decimal per row). The scans of one run
go concurrently on their own connections, so the database's grouping overlaps
Python's decryption, and all of them read one exported snapshot: the reports of
a run agree with each other row for row, whatever is written meanwhile.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Iterator

import psycopg
from psycopg import sql
from sqlalchemy.engine import Engine

from app.encryption.keyring import KeyRing
from app.i18n.labels import N_

BATCH = 20_000  # rows per FETCH of a server-side cursor
WORKERS = 2  # scans at a time (the bench machine has 2 cores: one decrypting, one grouping)
MONTHS = 24
WEEKS = 26
OPEN_TICKET_STATUSES = ("open", "in progress")
# (label, from days, to days) of an open ticket's age; None = no upper bound
AGE_BUCKETS = ((N_("under 1 day"), 0, 1), (N_("1–3 days"), 1, 3), (N_("3–7 days"), 3, 7), (N_("1–4 weeks"), 7, 28),
               (N_("1–3 months"), 28, 90), (N_("over 3 months"), 90, None))


@dataclass(frozen=True)
class Scan:
    name: str
    read: Callable[[psycopg.Connection, "Run"], Any]
    within: "Scan | None" = None  # a wider scan whose result holds this one's keys with the same totals


def covered(scans: Iterable[Scan]) -> list[Scan]:
    """The scans to run for `scans`: a scan whose wider scan is also wanted is left to it."""
    names = {s.name for s in scans}
    return [s for s in scans if s.within is None or s.within.name not in names]


# in the order a run starts them: the long decrypting pass first, then the database's
# grouping (which overlaps it on the other worker), the second decrypting pass last
SCANS: dict[str, Scan] = {}


def scan(read: Callable[[psycopg.Connection, "Run"], Any] | None = None, *, within: Scan | None = None):
    def register(read: Callable[[psycopg.Connection, "Run"], Any]) -> Scan:
        SCANS[read.__name__] = Scan(read.__name__, read, within)
        return SCANS[read.__name__]
    return register(read) if read else register


def month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


class Run:
    """One generation run: its time, its snapshot of the data, and the scans its reports share (each once)."""

    def __init__(self, engine: Engine, ring: KeyRing, now: dt.datetime, workers: int = WORKERS):
        self.engine, self.ring, self.now = engine, ring, now
        self.since_month = month_start(now.date(), MONTHS - 1)  # first day of the oldest month shown
        this_week = now.date() - dt.timedelta(days=now.weekday())  # Monday, as date_trunc('week')
        self.since_week = this_week - dt.timedelta(weeks=WEEKS - 1)
        self.seconds: dict[str, float] = {}  # scan name: wall time
        self._workers = workers
        self._futures: dict[str, Future] = {}
        self._lock = threading.Lock()
        self._stack = ExitStack()
        self._snapshot: str | None = None

    def __enter__(self) -> "Run":
        try:
            # the exporting transaction stays open until every scan has imported its snapshot
            leader = self._stack.enter_context(self._transaction())
            self._snapshot = leader.execute("SELECT pg_export_snapshot()").fetchone()[0]
            self._pool = self._stack.enter_context(ThreadPoolExecutor(self._workers,
                                                                      thread_name_prefix="report-scan"))
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        for future in self._futures.values():
            future.cancel()  # after a failure, scans nobody waits for need not start
        self._stack.close()  # waits for the running scans, then ends the exporting transaction

    def start(self, scans: Iterable[Scan]) -> None:
        with self._lock:
            for item in scans:
                if item.name not in self._futures:
                    self._futures[item.name] = self._pool.submit(self._read, item)

    def result(self, item: Scan) -> Any:
        """The scan's result (started now if nobody asked for it yet); its exception if it failed."""
        if item.name not in self._futures and item.within is not None and item.within.name in self._futures:
            item = item.within
        self.start([item])
        return self._futures[item.name].result()

    def _read(self, item: Scan) -> Any:
        started = time.perf_counter()
        with self._transaction(self._snapshot) as conn:
            value = item.read(conn, self)
        self.seconds[item.name] = time.perf_counter() - started
        return value

    @contextmanager
    def _transaction(self, snapshot: str | None = None) -> Iterator[psycopg.Connection]:
        """A read-only REPEATABLE READ transaction on a pooled connection, on `snapshot` when given.

        The driver connection is used directly: the engine's begin hook (the audit
        context) would put a statement before SET TRANSACTION SNAPSHOT, which must come first.
        """
        pooled = self.engine.raw_connection()
        conn: psycopg.Connection = pooled.driver_connection
        saved = conn.isolation_level, conn.read_only
        try:
            conn.isolation_level, conn.read_only = psycopg.IsolationLevel.REPEATABLE_READ, True
            with conn.transaction():
                if snapshot:
                    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
                yield conn
        finally:
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                conn.isolation_level, conn.read_only = saved
            pooled.close()  # back to the pool (which rolls back anything left)


def _counts(conn: psycopg.Connection, query: str, params: dict | None = None) -> dict[tuple, int]:
    """{group key tuple: count} from a query whose last column is the count."""
    return {tuple(row[:-1]): row[-1] for row in conn.execute(query, params)}


def _amounts(conn: psycopg.Connection, run: Run, table: str, pk: str, column: str, keys: str,
             params: dict | None = None, where: str = "TRUE") -> dict[Hashable, int]:
    """Sum of the decrypted `column` in cents per group key, streaming (pk, ciphertext, keys...)."""
    totals: dict[Hashable, int] = {}
    with conn.cursor(name=f"report_{table}_{column}", binary=True) as cursor:
        cursor.execute(f"SELECT {pk}, {column}, {keys} FROM {table} WHERE {column} IS NOT NULL AND {where}",
                       params)
        width = len(cursor.description)
        while batch := cursor.fetchmany(BATCH):
            rows = batch if width == 3 else ((row[0], row[1], row[2:]) for row in batch)
            run.ring.sum_cents(rows, table, column, totals)
    return totals


# a closed deal's month, when it is within the months shown ("YYYY-MM"), else NULL
CLOSE_MONTH = "CASE WHEN close_date >= %(since)s THEN to_char(close_date, 'YYYY-MM') END"


@scan
def opportunity_values(conn: psycopg.Connection, run: Run) -> dict[tuple, int]:
    """Cents per (stage, month won): the month only for won deals in the months shown."""
    return _amounts(conn, run, "opportunities", "opportunity_id", "value",
                    f"stage, CASE WHEN stage = 'won' THEN {CLOSE_MONTH} END", {"since": run.since_month})


@scan(within=opportunity_values)
def won_values(conn: psycopg.Connection, run: Run) -> dict[tuple, int]:
    """Cents per ("won", month won) in the months shown: opportunity_values' keys, for won deals only."""
    return _amounts(conn, run, "opportunities", "opportunity_id", "value",
                    f"stage, {CLOSE_MONTH}", {"since": run.since_month},
                    where="stage = 'won' AND close_date >= %(since)s")


@scan
def activity_counts(conn: psycopg.Connection, run: Run) -> dict[tuple, int]:
    """Activities per (week's Monday, type) in the weeks shown."""
    return _counts(conn, "SELECT CAST(date_trunc('week', activity_date) AS date), type, count(*) FROM activities "
                         "WHERE activity_date >= %(since)s GROUP BY 1, 2", {"since": run.since_week})


@scan
def opportunity_counts(conn: psycopg.Connection, run: Run) -> dict[tuple, int]:
    """Opportunities per (stage, month closed): the month only for won/lost deals in the months shown."""
    return _counts(conn, f"SELECT stage, CASE WHEN stage IN ('won', 'lost') THEN {CLOSE_MONTH} END, count(*) "
                         "FROM opportunities GROUP BY 1, 2", {"since": run.since_month})


@scan
def customer_counts(conn: psycopg.Connection, run: Run) -> dict[str, dict[Any, int]]:
    """Customers per industry and per location, in one pass."""
    found: dict[str, dict[Any, int]] = {"industry": {}, "location": {}}
    # GROUPING(industry) is 1 on the per-location rows (where industry is not a group's value)
    for by_location, value, n in conn.execute(
            "SELECT GROUPING(industry), CASE WHEN GROUPING(industry) = 1 THEN location ELSE industry END, count(*) "
            "FROM customers GROUP BY GROUPING SETS ((industry), (location))"):
        found["location" if by_location else "industry"][value] = n
    return found


@scan
def lead_counts(conn: psycopg.Connection, run: Run) -> dict[tuple, int]:
    """Leads per (source, status)."""
    return _counts(conn, "SELECT source, status, count(*) FROM leads GROUP BY 1, 2")


@scan
def ticket_counts(conn: psycopg.Connection, run: Run) -> dict[tuple, int]:
    """Open tickets per (status, priority, age bucket: the index in AGE_BUCKETS)."""
    # width_bucket: 0 below the first threshold, i between thresholds i-1 and i: the AGE_BUCKETS index
    return _counts(conn, "SELECT status, priority, width_bucket(extract(epoch FROM %(now)s - created_at) / 86400, "
                         "%(thresholds)s::numeric[]), count(*) FROM service_tickets "
                         "WHERE status = ANY(%(open)s) GROUP BY 1, 2, 3",
                   {"now": run.now, "open": list(OPEN_TICKET_STATUSES),
                    "thresholds": [lower for _label, lower, _upper in AGE_BUCKETS[1:]]})


@scan
def customer_revenue(conn: psycopg.Connection, run: Run) -> dict[Hashable, int]:
    """Cents of revenue per industry."""
    return _amounts(conn, run, "customers", "customer_id", "revenue", "industry")
