"""The one data loader: a batch of realistic rows per table, from the demo's few to millions.

`load` (`crm seed`, the benchmarks) runs as the schema owner: it reserves ids,
drops the secondary indexes and foreign keys, switches the audit triggers off,
fills the tables in parallel and rebuilds everything; the logs partitions from
`start` on must exist (`crm seed` has logs maintenance create them first).
`load_in_place` (the demo data of a new instance) writes a small batch in the
caller's transaction, as the app's own role, with indexes, keys and audit
triggers left as they are. Both append after the current ids, and the rows of a
batch reference only rows of the same batch. Whatever happens, `load` switches
the audit triggers back on and rebuilds the indexes and keys.
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
from typing import Callable, Sequence

import psycopg

from app.encryption.keyring import KeyRing
from app.seed import sealed_rows, sql_rows
from app.seed.plan import PRIMARY_KEYS, TABLES
from app.seed.sql_rows import Span
from app.seed.staff import NOBODY, Staff, ensure
from app.seed.words import Names

CHUNK = 250_000  # rows per INSERT ... SELECT: a progress step, and one transaction
AUDITED = [t for t in TABLES if t != "logs"]
SEALED = ("customers", "opportunities")  # built in Python: their amounts are encrypted
Progress = Callable[[str, int], Callable[[int], None]]  # (table, total) -> update(rows)
Task = tuple[Callable[..., None], tuple]  # a fill step, called with a connection first


@dataclass
class SeedReport:
    counts: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)  # per table (its own work), then per phase
    first_ids: dict[str, int] = field(default_factory=dict)
    staff: Staff = NOBODY  # who owns the rows (created or found)


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
    """Move each sequence past the batch (the owner may); the batch's ids are base + 1 .. base + count."""
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


def draw_ids(conn: psycopg.Connection, counts: dict[str, int]) -> dict[str, Span]:
    """Take each batch's ids from its sequence (the app's role may not move one), the table locked
    against other writers until the caller's transaction ends, so the ids are consecutive."""
    spans = {}
    for table, count in counts.items():
        conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        low, high = conn.execute("SELECT min(id), max(id) FROM (SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                                 "AS id FROM generate_series(1, %s)) AS drawn",
                                 (table, PRIMARY_KEYS[table], count)).fetchone()
        if high - low + 1 != count:
            raise RuntimeError(f"{table}: ids {low}..{high} for {count} rows; another session drew ids meanwhile")
        spans[table] = Span(low - 1, count)
    return spans


def audit_triggers(conn: psycopg.Connection, enable: bool) -> list[str]:
    """Switch the per-row audit and webhook triggers of the CRM tables off (for the load) or on again.

    Synthetic rows are neither audited row by row (the load logs one event) nor sent to webhooks."""
    names = [row[0] for row in conn.execute(
        "SELECT tgrelid::regclass::text || '.' || tgname FROM pg_trigger "
        "WHERE tgname = ANY(%s) AND NOT tgisinternal",
        ([f"{t}_{kind}" for t in AUDITED for kind in ("audit", "webhooks")],))]
    for name in names:
        table, trigger = name.rsplit(".", 1)
        conn.execute(f'ALTER TABLE {table} {"ENABLE" if enable else "DISABLE"} TRIGGER "{trigger}"')
    return names


def deferred_ddl(conn: psycopg.Connection, tables: Sequence[str] = TABLES) -> tuple[list[str], list[str], list[str]]:
    """(drops, index creates, foreign-key creates) for the secondary indexes and keys touching `tables`."""
    drops, indexes, keys = [], [], []
    for name, table, ddl in conn.execute(
            "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND (conrelid::regclass::text = ANY(%s) OR confrelid::regclass::text = ANY(%s))",
            (list(tables), list(tables))):
        drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        keys.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}')
    for name, ddl in conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary AND NOT i.indisunique",
            (list(tables),)):
        drops.append(f'DROP INDEX "{name}"')
        # a partitioned index's definition reads "ON ONLY logs": that would build the parent alone
        indexes.insert(0, ddl.replace(" ON ONLY ", " ON "))
    return drops, indexes, keys  # indexes before foreign keys: validation uses them


def _chunk_seed(seed: int, table: str, chunk: int) -> float:
    return zlib.crc32(f"{seed}:{table}:{chunk}".encode()) / 2**31 - 1


class Fill:
    """The rows of one batch as tasks: a COPY per sealed table, an INSERT ... SELECT per chunk."""

    def __init__(self, counts: dict[str, int], spans: dict[str, Span], ring: KeyRing, seed: int,
                 users: list[tuple[int, str]], start: dt.datetime, progress: Progress, analyze: bool = True,
                 staff: Staff = NOBODY) -> None:
        self.counts, self.spans, self.ring, self.seed, self.analyze = counts, spans, ring, seed, analyze
        self.staff = staff
        self.users, self.start = users, start
        self.now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        self.updates = {t: progress(t, counts[t]) for t in TABLES if counts.get(t)}
        self.seconds: dict[str, float] = {t: 0.0 for t in TABLES}
        self.lock = threading.Lock()
        self.contacts_left = len(self._chunks("contacts"))
        self.contacts_done = threading.Event()
        if not self.contacts_left:
            self.contacts_done.set()

    def _chunks(self, table: str) -> list[tuple[int, int, int]]:
        n = self.counts.get(table, 0)
        return [(i, first, min(n, first + CHUNK - 1)) for i, first in enumerate(range(1, n + 1, CHUNK))]

    def _timed(self, table: str, started: float) -> None:
        with self.lock:
            self.seconds[table] += time.monotonic() - started

    def tasks(self) -> list[Task]:
        """Python-built tables first, so they overlap the server-side generation; contacts before
        activities (which wait for them): a pool takes tasks in this order."""
        sealed = [(self.sealed, (t,)) for t in SEALED if self.counts.get(t)]
        tasks: list[Task] = sealed[:1] + [(self.sql_chunk, ("contacts", *c)) for c in self._chunks("contacts")]
        tasks += sealed[1:]
        for table in ("leads", "service_tickets", "activities", "logs"):
            tasks += [(self.sql_chunk, (table, *c)) for c in self._chunks(table)]
        return tasks

    def release(self) -> None:
        """After a failure: activities tasks waiting for contacts go on (and find the pool stopped)."""
        self.contacts_done.set()

    def sql_chunk(self, conn: psycopg.Connection, table: str, index: int, first: int, last: int) -> None:
        if table == "activities":
            self.contacts_done.wait()  # an activity takes its contact's customer
        started = time.monotonic()
        s = self.spans
        statement = {
            "contacts": lambda: sql_rows.contacts(first, last, s["contacts"], s["customers"]),
            "leads": lambda: sql_rows.leads(first, last, s["leads"], s["contacts"], self.staff.sql_pick()),
            "activities": lambda: sql_rows.activities(first, last, s["activities"], s["customers"], s["contacts"]),
            "service_tickets": lambda: sql_rows.service_tickets(first, last, s["service_tickets"], s["customers"],
                                                                self.staff.sql_of_customer("customer_id")),
            "logs": lambda: sql_rows.logs(first, last, self.counts["logs"], s["logs"], s, self.users,
                                          self.start.isoformat(sep=" "), (self.now - self.start).total_seconds()),
        }[table]()
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
                if self.analyze:  # the activities' join needs its size (only the owner may analyze)
                    conn.execute("ANALYZE contacts")
                self.contacts_done.set()

    def sealed(self, conn: psycopg.Connection, table: str) -> None:
        started = time.monotonic()
        names = Names(seed=self.seed + (0 if table == "customers" else 1))
        rows = (sealed_rows.customers(names, self.ring, self.spans["customers"], self.now, self.staff)
                if table == "customers" else
                sealed_rows.opportunities(names, self.ring, self.spans["opportunities"],
                                          self.spans["customers"], self.now, self.staff))
        with conn.transaction():
            sealed_rows.copy(conn, table, rows, self.updates[table])
        self._timed(table, started)


def _in_pool(conninfo: str, tasks: list[Task], jobs: int, stop: Callable[[], None] | None = None) -> None:
    """Run tasks on `jobs` connections at once (one per thread) and raise the first failure; with
    `stop`, a failure cancels the tasks not started yet (and `stop` releases those waiting)."""
    local = threading.local()
    opened: list[psycopg.Connection] = []

    def run(step: Callable[..., None], args: tuple) -> None:
        if getattr(local, "conn", None) is None:
            local.conn = _session(conninfo)
            opened.append(local.conn)
        step(local.conn, *args)

    try:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="seed") as pool:
            for future in [pool.submit(run, step, args) for step, args in tasks]:
                error = future.exception()
                if error is not None:
                    if stop:
                        pool.shutdown(cancel_futures=True)
                        stop()
                    raise error
    finally:
        for conn in opened:
            conn.close()


def _ddl_task(echo: Callable[[str], None], done: Callable[[int], None] | None = None) -> Callable[..., None]:
    def run(conn: psycopg.Connection, statement: str) -> None:
        started = time.monotonic()
        conn.execute(statement)
        echo(f"  {time.monotonic() - started:6.1f} s  {statement[:120]}")
        if done:
            done(1)
    return run


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
        staff = ensure(conn, counts.get("customers", 0), seed)  # teams and reps first: they own the rows
        report.staff = staff
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
                fill = Fill(counts, spans, ring, seed, users, start, progress, staff=staff)
                _in_pool(conninfo, fill.tasks(), jobs, fill.release)
                report.seconds.update(fill.seconds)
            finally:
                if disabled:
                    audit_triggers(conn, enable=True)
            report.seconds["rows (wall)"] = time.monotonic() - started
        finally:  # the indexes and keys come back even when a chunk failed
            phase = time.monotonic()
            indexes.sort(key=lambda ddl: _build_order(ddl, counts))
            build = _ddl_task(echo, progress("indexes", len(indexes)))
            _in_pool(conninfo, [(build, (ddl,)) for ddl in indexes], jobs)
            report.seconds["indexes"] = time.monotonic() - phase
            phase = time.monotonic()
            for ddl in keys:
                conn.execute(ddl)
            report.seconds["foreign keys"] = time.monotonic() - phase
        phase = time.monotonic()
        vacuum = _ddl_task(lambda _m: None)
        _in_pool(conninfo, [(vacuum, (f"VACUUM (ANALYZE) {t}",)) for t in TABLES], jobs)
        report.seconds["vacuum, analyze"] = time.monotonic() - phase
    report.seconds["total"] = time.monotonic() - started
    return report


def load_in_place(conn: psycopg.Connection, counts: dict[str, int], ring: KeyRing, *,
                  seed: int = 20261129, staff: Staff = NOBODY) -> SeedReport:
    """Append a small batch in `conn`'s open transaction, one step after the other, audited as
    any write of the app's role (no logs rows: the audit triggers write those)."""
    started = time.monotonic()
    report = SeedReport(counts=dict(counts))
    spans = draw_ids(conn, counts)
    report.first_ids = {t: s.base + 1 for t, s in spans.items()}
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    fill = Fill(counts, spans, ring, seed, [], now, lambda _table, _total: lambda _rows: None, analyze=False,
                staff=staff)
    for step, args in fill.tasks():
        step(conn, *args)
    report.seconds.update(fill.seconds)
    report.seconds["total"] = time.monotonic() - started
    return report
