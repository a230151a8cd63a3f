"""Write cost of the audit triggers: customers insert/update throughput with and without them.

    python -m bench.audit [--rows 100000] [--single 100] [--batch 5000] [--rounds 20]

Starts a throw-away embedded PostgreSQL (or uses BENCH_DATABASE_URL, an owner URL of an
empty database), migrates it, preloads `--rows` customers (audited, so logs holds as many
rows), then alternates rounds with the audit triggers enabled and disabled:
  * single-row INSERT / UPDATE, one transaction each, as the app does it (with the app's
    per-transaction set_config when audited): median and p95 latency, rows/s;
  * one statement writing `--batch` rows (bulk import / bulk action): rows/s.
Then loads `--log-rows` log entries over 13 monthly partitions and times the /logs/
list query (keyset on created_at, log_id) at page 1 and deep pages, against OFFSET.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

AUDIT_TRIGGERS = ("customers_audit",)
SET_ACTOR = "SELECT set_config('crm.user_id', '1', true), set_config('crm.via', 'web POST /customers/add', true)"


def migrated_database(instance: Path) -> tuple[str, object]:
    """(libpq URL, server to stop) of a freshly migrated database."""
    from sqlalchemy.engine import make_url

    from app import create_app
    from app.ops.embedded_db import EmbeddedPostgres
    from config import Config

    url, server = os.environ.get("BENCH_DATABASE_URL"), None
    if not url:
        server = EmbeddedPostgres(instance)
        server.start()
        url = server.url()
    app = create_app(Config, DATABASE_URL=url, INSTANCE_DIR=instance, SECRET_KEY="bench", DEMO_DATA=False)
    with app.app_context():
        from flask_migrate import upgrade

        from app.extensions import db

        upgrade()
        db.engine.dispose()
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False), server


def set_audit(conn: psycopg.Connection, enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    for trigger in AUDIT_TRIGGERS:
        conn.execute(f"ALTER TABLE customers {verb} TRIGGER {trigger}")


def single_rows(conn: psycopg.Connection, kind: str, n: int, audited: bool, max_id: int) -> list[float]:
    """Latency (s) of n one-row transactions."""
    times = []
    for i in range(n):
        start = time.perf_counter()
        with conn.transaction():
            if audited:
                conn.execute(SET_ACTOR)
            if kind == "insert":
                conn.execute("INSERT INTO customers (name, industry, location, revenue) VALUES (%s, %s, %s, %s)",
                             (f"Bench {i}", "Retail", "Shenzhen", 1000 + i))
            else:
                conn.execute("UPDATE customers SET location = %s, revenue = revenue + 1 WHERE customer_id = %s",
                             (f"City {i}", random.randint(1, max_id)))
        times.append(time.perf_counter() - start)
    return times


def batch(conn: psycopg.Connection, kind: str, n: int, max_id: int) -> float:
    """Seconds for one statement writing n rows."""
    start = time.perf_counter()
    with conn.transaction():
        if kind == "insert":
            conn.execute("INSERT INTO customers (name, industry, revenue) "
                         "SELECT 'Batch ' || g, 'Retail', g FROM generate_series(1, %s) g", (n,))
        else:
            first = random.randint(1, max_id - n)
            conn.execute("UPDATE customers SET industry = 'Banking', revenue = revenue + 1 "
                         "WHERE customer_id BETWEEN %s AND %s", (first, first + n - 1))
    return time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="customers preloaded")
    parser.add_argument("--single", type=int, default=100, help="one-row transactions per round and kind")
    parser.add_argument("--batch", type=int, default=5_000, help="rows per bulk statement")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--log-rows", type=int, default=1_000_000, help="log entries for the paging test")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        url, server = migrated_database(Path(tmp))
        try:
            run(url, args)
            paging(url, args.log_rows)
        finally:
            if server is not None:
                server.stop()


def run(url: str, args: argparse.Namespace) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO customers (name, industry, location, revenue) "
                     "SELECT 'Preload ' || g, 'Retail', 'Beijing', g FROM generate_series(1, %s) g", (args.rows,))
        conn.execute("VACUUM ANALYZE customers")
        conn.execute("VACUUM ANALYZE logs")
        max_id = conn.execute("SELECT max(customer_id) FROM customers").fetchone()[0]
        single = {(k, a): [] for k in ("insert", "update") for a in (True, False)}
        bulk = {(k, a): [] for k in ("insert", "update") for a in (True, False)}
        for round_no in range(args.rounds):
            for audited in ((True, False) if round_no % 2 == 0 else (False, True)):
                set_audit(conn, audited)
                for kind in ("insert", "update"):
                    single[(kind, audited)] += single_rows(conn, kind, args.single, audited, max_id)
                    bulk[(kind, audited)].append(batch(conn, kind, args.batch, max_id))
        set_audit(conn, True)
        logs = conn.execute("SELECT count(*) FROM logs").fetchone()[0]
        customers = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
        server_version = conn.execute("SHOW server_version").fetchone()[0]

    print(f"PostgreSQL {server_version}; customers {customers:,} rows, logs {logs:,} rows at the end; "
          f"{args.rounds} alternating rounds")
    print(f"{'workload':34} {'audit off':>22} {'audit on':>22} {'slower':>8}")
    for kind in ("insert", "update"):
        off, on = single[(kind, False)], single[(kind, True)]
        cost = statistics.median(on) / statistics.median(off) - 1
        print(f"{'one-row ' + kind + ' txn, median/p95 ms':34} "
              f"{statistics.median(off) * 1e3:9.3f} / {pct(off, 95) * 1e3:8.3f} "
              f"{statistics.median(on) * 1e3:9.3f} / {pct(on, 95) * 1e3:8.3f} {cost:8.1%}")
        print(f"{'  rows/s (1 / median)':34} {1 / statistics.median(off):22,.0f} {1 / statistics.median(on):22,.0f}")
    for kind in ("insert", "update"):
        off, on = statistics.median(bulk[(kind, False)]), statistics.median(bulk[(kind, True)])
        print(f"{f'{args.batch:,}-row {kind} statement, rows/s':34} {args.batch / off:22,.0f} "
              f"{args.batch / on:22,.0f} {on / off - 1:8.1%}")



def timed_ms(conn: psycopg.Connection, sql: str, params: tuple = (), repeat: int = 30) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        conn.execute(sql, params).fetchall()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), pct(times, 95)


def paging(url: str, log_rows: int) -> None:
    """The /logs/ list's query at page 1 and deep pages (keyset), and OFFSET for comparison."""
    page = 25
    keyset = ("SELECT log_id, created_at FROM logs WHERE (created_at, log_id) < (%s, %s) "
              "ORDER BY created_at DESC, log_id DESC LIMIT 26")
    with psycopg.connect(url, autocommit=True) as conn:
        for month in range(-12, 1):
            conn.execute("SELECT crm_logs_partition((date_trunc('month', now()) + make_interval(months => %s))::date)",
                         (month,))
        step = 365 * 86400 / log_rows  # spread over a year
        conn.execute("INSERT INTO logs (action, description, created_at, table_name, record_key) "
                     "SELECT 'update customers', 'x', (now() AT TIME ZONE 'utc') - g * make_interval(secs => %s), "
                     "'customers', (g %% 50000)::text FROM generate_series(1, %s) g", (step, log_rows))
        conn.execute("VACUUM ANALYZE logs")
        total = conn.execute("SELECT count(*) FROM logs").fetchone()[0]
        print(f"\n/logs/ list query, {total:,} log rows in 13+ monthly partitions, {page} rows per page, median/p95 ms")
        first = timed_ms(conn, "SELECT log_id, created_at FROM logs ORDER BY created_at DESC, log_id DESC LIMIT 26")
        print(f"{'keyset, page 1':34} {first[0]:9.2f} / {first[1]:8.2f}")
        for number in (1_000, 10_000, total // page - 1):
            cursor = conn.execute("SELECT created_at, log_id FROM logs ORDER BY created_at DESC, log_id DESC "
                                  "OFFSET %s LIMIT 1", (number * page,)).fetchone()
            deep = timed_ms(conn, keyset, cursor)
            print(f"{f'keyset, page {number:,}':34} {deep[0]:9.2f} / {deep[1]:8.2f}")
        for number in (1_000, 10_000):
            offset = timed_ms(conn, "SELECT log_id FROM logs ORDER BY created_at DESC, log_id DESC "
                                    "OFFSET %s LIMIT 25", (number * page,), repeat=5)
            print(f"{f'OFFSET (not used), page {number:,}':34} {offset[0]:9.2f} / {offset[1]:8.2f}")


if __name__ == "__main__":
    main()
