"""Load a synthetic data set: reserve ids, drop indexes and keys, fill in parallel, rebuild.

Runs as the schema owner (it drops and recreates indexes and foreign keys and
switches the audit triggers off for the load); the logs partitions from `start`
on must exist (`crm seed` has logs maintenance create them first).
Rows are appended after the current ids (each table's sequence is moved past
the batch first, so the app may keep writing meanwhile), and the rows of a
batch reference only rows of the same batch. Whatever happens, the audit
triggers are switched back on and the indexes and keys rebuilt.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import psycopg

from app.encryption.keyring import KeyRing
from app.seed import sealed_rows, sql_rows
from app.seed.plan import PRIMARY_KEYS, TABLES
from app.seed.sql_rows import Span
from app.seed.synthetic import Generator, _deferred

CHUNK = 250_000  # rows per INSERT ... SELECT: a progress step, and one transaction
AUDITED = [t for t in TABLES if t != "logs"]
Progress = Callable[[str, int], Callable[[int], None]]  # (table, total) -> update(rows)


@dataclass
class SeedReport:
    counts: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)  # per table (its own work), then per phase
    first_ids: dict[str, int] = field(default_factory=dict)


def _session(conninfo: str) -> psycopg.Connection:
    conn = psycopg.connect(conninfo, autocommit=True)
    # bulk work: no waiting for the WAL flush, no JIT compiling of the generators' big expressions
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET jit = off")
    conn.execute("SET work_mem = '256MB'")
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET max_parallel_maintenance_workers = 1")  # each build leader + 1 worker
    return conn


def reserve_ids(conn: psycopg.Connection, counts: dict[str, int]) -> dict[str, Span]:
    """Move each sequence past the batch; the batch's ids are base + 1 .. base + count."""
    spans = {}
    for table, count in counts.items():
        pk = PRIMARY_KEYS[table]
        (sequence,) = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", (table, pk)).fetchone()
        (top,) = conn.execute(f"""
            SELECT setval(%s, greatest((SELECT coalesce(max({pk}), 0) FROM {table}),
                                       (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
                                        FROM {sequence})) + %s)""", (sequence, count)).fetchone()
        spans[table] = Span(top - count, count)
    return spans


def audit_triggers(conn: psycopg.Connection, enable: bool) -> list[str]:
    """Switch the per-row audit triggers of the CRM tables off (for the load) or on again."""
    names = [row[0] for row in conn.execute(
        "SELECT tgrelid::regclass::text || '.' || tgname FROM pg_trigger "
        "WHERE tgname = ANY(%s) AND NOT tgisinternal", ([f"{t}_audit" for t in AUDITED],))]
    for name in names:
        table, trigger = name.rsplit(".", 1)
        conn.execute(f'ALTER TABLE {table} {"ENABLE" if enable else "DISABLE"} TRIGGER "{trigger}"')
    return names


def deferred_ddl(conn: psycopg.Connection) -> tuple[list[str], list[str], list[str]]:
    """(drops, index creates, foreign-key creates) for the seeded tables' secondary indexes and keys."""
    drops, creates = _deferred(conn, list(TABLES))
    # a partitioned index's definition reads "ON ONLY logs": that would build the parent alone
    creates = [ddl.replace(" ON ONLY ", " ON ") for ddl in creates]
    return drops, [d for d in creates if d.startswith("CREATE")], [d for d in creates if not d.startswith("CREATE")]


def _chunk_seed(seed: int, table: str, chunk: int) -> float:
    return zlib.crc32(f"{seed}:{table}:{chunk}".encode()) / 2**31 - 1


class _Run:
    """The parallel fill: one job per chunk, on `jobs` connections."""

    def __init__(self, conninfo: str, counts: dict[str, int], spans: dict[str, Span], ring: KeyRing,
                 seed: int, users: list[tuple[int, str]], start: dt.datetime, progress: Progress) -> None:
        self.conninfo, self.counts, self.spans, self.ring, self.seed = conninfo, counts, spans, ring, seed
        self.users, self.start = users, start
        self.now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        self.updates = {t: progress(t, counts[t]) for t in TABLES if counts.get(t)}
        self.seconds: dict[str, float] = {t: 0.0 for t in TABLES}
        self.lock = threading.Lock()
        self.local = threading.local()
        self.contacts_left = len(self._chunks("contacts"))
        self.contacts_done = threading.Event()

    def _conn(self) -> psycopg.Connection:
        if getattr(self.local, "conn", None) is None:
            self.local.conn = _session(self.conninfo)
            self.opened.append(self.local.conn)
        return self.local.conn

    def _chunks(self, table: str) -> list[tuple[int, int, int]]:
        n = self.counts.get(table, 0)
        return [(i, first, min(n, first + CHUNK - 1)) for i, first in enumerate(range(1, n + 1, CHUNK))]

    def _timed(self, table: str, started: float) -> None:
        with self.lock:
            self.seconds[table] += time.monotonic() - started

    def sql_chunk(self, table: str, index: int, first: int, last: int) -> None:
        if table == "activities":
            self.contacts_done.wait()  # an activity takes its contact's customer
        started = time.monotonic()
        s = self.spans
        statement = {
            "contacts": lambda: sql_rows.contacts(first, last, s["contacts"], s["customers"]),
            "leads": lambda: sql_rows.leads(first, last, s["leads"], s["contacts"]),
            "activities": lambda: sql_rows.activities(first, last, s["activities"], s["customers"], s["contacts"]),
            "service_tickets": lambda: sql_rows.service_tickets(first, last, s["service_tickets"], s["customers"]),
            "logs": lambda: sql_rows.logs(first, last, self.counts["logs"], s["logs"], s, self.users,
                                          self.start.isoformat(sep=" "), (self.now - self.start).total_seconds()),
        }[table]()
        conn = self._conn()
        with conn.transaction():
            conn.execute("SELECT setseed(%s)", (_chunk_seed(self.seed, table, index),))
            conn.execute(statement)
        self._timed(table, started)
        self.updates[table](last - first + 1)
        if table == "contacts":
            with self.lock:
                self.contacts_left -= 1
                last_one = self.contacts_left == 0
            if last_one:
                conn.execute("ANALYZE contacts")  # the activities' join needs its size
                self.contacts_done.set()

    def sealed(self, table: str) -> None:
        started = time.monotonic()
        generator = Generator(seed=self.seed + (0 if table == "customers" else 1))
        rows = (sealed_rows.customers(generator, self.ring, self.spans["customers"], self.now)
                if table == "customers" else
                sealed_rows.opportunities(generator, self.ring, self.spans["opportunities"],
                                          self.spans["customers"], self.now))
        conn = self._conn()
        with conn.transaction():
            sealed_rows.copy(conn, table, rows, self.updates[table])
        self._timed(table, started)

    def run(self, jobs: int) -> None:
        # Python-built tables first, so they overlap the server-side generation; contacts
        # before activities (which wait for them): a pool takes jobs in this order.
        tasks: list[tuple[Callable, tuple]] = [(self.sealed, ("customers",))]
        tasks += [(self.sql_chunk, ("contacts", *c)) for c in self._chunks("contacts")]
        tasks += [(self.sealed, ("opportunities",))]
        for table in ("leads", "service_tickets", "activities", "logs"):
            tasks += [(self.sql_chunk, (table, *c)) for c in self._chunks(table)]
        if not self._chunks("contacts"):
            self.contacts_done.set()
        self.opened: list[psycopg.Connection] = []
        try:
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="seed") as pool:
                futures = [pool.submit(fn, *args) for fn, args in tasks]
                for future in futures:
                    error = future.exception()
                    if error is not None:
                        pool.shutdown(cancel_futures=True)
                        self.contacts_done.set()  # release activities jobs waiting for contacts
                        raise error
        finally:
            for conn in self.opened:
                conn.close()


def _in_pool(conninfo: str, statements: list[str], jobs: int, echo: Callable[[str], None],
             done: Callable[[int], None] | None = None) -> None:
    """Run independent DDL statements on `jobs` connections at once."""
    local = threading.local()
    opened: list[psycopg.Connection] = []

    def run(statement: str) -> None:
        if getattr(local, "conn", None) is None:
            local.conn = _session(conninfo)
            opened.append(local.conn)
        started = time.monotonic()
        local.conn.execute(statement)
        echo(f"  {time.monotonic() - started:6.1f} s  {statement[:120]}")
        if done:
            done(1)

    try:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="seed-ddl") as pool:
            for future in [pool.submit(run, s) for s in statements]:
                future.result()
    finally:
        for conn in opened:
            conn.close()


INDEX_TABLE_RE = re.compile(r" ON (?:public\.)?(\w+) USING (\w+)")


def _build_order(ddl: str, counts: dict[str, int]) -> tuple[int, int]:
    """Biggest first (GIN before B-tree), so the pool does not end on one long build."""
    match = INDEX_TABLE_RE.search(ddl)
    table, method = (match.group(1), match.group(2)) if match else ("", "")
    return (-counts.get(table, 0), 0 if method == "gin" else 1)


def load(conninfo: str, counts: dict[str, int], ring: KeyRing, *, start: dt.datetime, seed: int = 20261129,
         jobs: int | None = None, progress: Progress, echo: Callable[[str], None] = print) -> SeedReport:
    """Append `counts` rows per table (TABLES order), dated from `start` to now, and rebuild
    indexes, keys and statistics."""
    jobs = jobs or max(2, os.cpu_count() or 2)
    report = SeedReport(counts=dict(counts))
    started = time.monotonic()
    with _session(conninfo) as conn:
        users = [(u, n) for u, n in conn.execute("SELECT user_id, username FROM users ORDER BY user_id LIMIT 500")]
        with conn.transaction():
            spans = reserve_ids(conn, counts)
        report.first_ids = {t: s.base + 1 for t, s in spans.items()}
        drops, indexes, keys = deferred_ddl(conn)
        with conn.transaction():
            for ddl in drops:
                conn.execute(ddl)
        try:
            disabled = audit_triggers(conn, enable=False)
            try:
                fill = _Run(conninfo, counts, spans, ring, seed, users, start, progress)
                fill.run(jobs)
                report.seconds.update(fill.seconds)
            finally:
                if disabled:
                    audit_triggers(conn, enable=True)
            report.seconds["rows (wall)"] = time.monotonic() - started
        finally:  # the indexes and keys come back even when a chunk failed
            phase = time.monotonic()
            indexes.sort(key=lambda ddl: _build_order(ddl, counts))
            _in_pool(conninfo, indexes, jobs, echo, progress("indexes", len(indexes)))
            report.seconds["indexes"] = time.monotonic() - phase
            phase = time.monotonic()
            for ddl in keys:
                conn.execute(ddl)
            report.seconds["foreign keys"] = time.monotonic() - phase
        phase = time.monotonic()
        _in_pool(conninfo, [f"VACUUM (ANALYZE) {t}" for t in TABLES], jobs, lambda _m: None)
        report.seconds["vacuum, analyze"] = time.monotonic() - phase
    report.seconds["total"] = time.monotonic() - started
    return report
