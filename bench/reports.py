"""Benchmark: generating every report, and the dashboard page, on a bulk-loaded data set.

    python -m bench.reports [--scale 0.25] [--instance /tmp/rep-bench] [--repeat 3] [--workers 2]
                            [--requests 50] [--history-days 365] [--all-only] [--load-only]

Times each report type generated alone, then all of them in one run (where
they share their table scans), then the dashboard over a year of hourly
snapshots.

Scale 1 is the contract's bench size: 1M customers, 2M opportunities, 10M
activities (plus 1M leads and 500k tickets). The data is loaded once into its
own embedded PostgreSQL in --instance and reused while the size matches.
Customers and opportunities go in with COPY: their amounts are encrypted in
Python under the instance's key ring. Leads, activities and tickets have no
encrypted column and are generated inside the server (INSERT ... SELECT
generate_series), which is faster than sending 10M rows through COPY. During
the load the tables' secondary indexes and foreign keys are dropped (rebuilt
once afterwards) and their audit triggers are disabled: a bench data set needs
no audit trail of 15M inserts.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import statistics
import time
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

ADMIN_PASSWORD = "bench-admin-password"
INDUSTRIES = ["Technology", "Manufacturing", "Retail", "Healthcare", "Finance", "Logistics", "Energy",
              "Education", "Media", "Construction", "Agriculture", "Telecom", "Tourism", "Legal",
              "Insurance", "Real estate", "制造业", "互联网", "金融", "零售", "医疗", "物流", "教育", "能源"]
CITIES = [f"City {i:03d}" for i in range(280)] + ["北京", "上海", "深圳", "广州", "杭州", "成都", "Singapore",
                                                  "London", "New York", "Berlin", "Tokyo", "Sydney"]
STAGES = ["initial", "qualification", "proposal", "negotiation", "won", "lost"]
STAGE_WEIGHTS = [25, 15, 12, 8, 22, 18]
COPY_BATCH = 50_000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def amount(rng: random.Random, mu: float) -> Decimal:
    return Decimal(round(rng.lognormvariate(mu, 1.6), 2)).quantize(Decimal("0.01"))


def load(app, scale: float, echo=print) -> dict[str, int]:
    """Empty the CRM tables and bulk-load a data set of the given scale; returns row counts."""
    from app.ops.database import migration_database_url
    from app.encryption.columns import band_of, key_ring

    sizes = {"customers": int(1_000_000 * scale), "opportunities": int(2_000_000 * scale),
             "leads": int(1_000_000 * scale), "activities": int(10_000_000 * scale),
             "service_tickets": int(500_000 * scale)}
    ring = key_ring(app.config["INSTANCE_DIR"])
    rng = random.Random(6)
    today = dt.date.today()
    from app.seed.loader import deferred_ddl

    with psycopg.connect(libpq(migration_database_url(app.config)), autocommit=True) as conn:
        conn.execute("TRUNCATE activities, service_tickets, opportunities, leads, contacts, customers, reports "
                     "RESTART IDENTITY")
        conn.execute("SET maintenance_work_mem = '512MB'")
        drops, indexes, keys = deferred_ddl(conn, list(sizes))
        creates = indexes + keys
        for ddl in drops:
            conn.execute(ddl)
        for table in sizes:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_audit")
        started = time.perf_counter()
        n = sizes["customers"]
        with conn.cursor().copy("COPY customers (customer_id, name, industry, location, revenue, revenue_band) "
                                "FROM STDIN") as copy:
            for i in range(1, n + 1):
                revenue = amount(rng, 13) if rng.random() < 0.9 else None
                sealed = None if revenue is None else ring.encrypt(revenue, "customers", "revenue", i)
                industry = INDUSTRIES[min(len(INDUSTRIES) - 1, int(rng.expovariate(0.15)))]
                copy.write_row((i, f"Bench customer {i}", industry, rng.choice(CITIES), sealed, band_of(revenue)))
        echo(f"customers: {n:,} in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        with conn.cursor().copy("COPY opportunities (opportunity_id, customer_id, name, stage, value, value_band, "
                                "close_date) FROM STDIN") as copy:
            for i in range(1, sizes["opportunities"] + 1):
                value = amount(rng, 10) if rng.random() < 0.95 else None
                sealed = None if value is None else ring.encrypt(value, "opportunities", "value", i)
                stage = rng.choices(STAGES, STAGE_WEIGHTS)[0]
                close = today - dt.timedelta(days=rng.randint(-60, 1100))
                copy.write_row((i, rng.randint(1, n), f"Deal {i}", stage, sealed, band_of(value), close))
        echo(f"opportunities: {sizes['opportunities']:,} in {time.perf_counter() - started:.0f} s")
        for table in ("customers", "opportunities"):
            pk = "customer_id" if table == "customers" else "opportunity_id"
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{pk}'), (SELECT max({pk}) FROM {table}))")
        started = time.perf_counter()
        conn.execute("""INSERT INTO leads (source, status)
            SELECT (ARRAY['Website','Referral','Trade show','Cold call','LinkedIn','Partner','官网','展会',
                          '老客户推荐','微信','Email campaign', NULL])[1 + (random() * 11)::int],
                   (ARRAY['new','following up','qualified','converted','lost'])[1 + (random() * 4)::int]
            FROM generate_series(1, %s)""", (sizes["leads"],))
        conn.execute("""INSERT INTO service_tickets (customer_id, subject, status, priority, created_at)
            SELECT 1 + (random() * (%s - 1))::int, 'Ticket ' || g,
                   (ARRAY['open','in progress','resolved','closed'])[1 + (random() * 3)::int],
                   (ARRAY['low','medium','high','urgent'])[1 + (random() * 3)::int],
                   (now() AT TIME ZONE 'utc') - random() * interval '200 days'
            FROM generate_series(1, %s) g""", (n, sizes["service_tickets"]))
        echo(f"leads, tickets in {time.perf_counter() - started:.0f} s")
        chunk = 1_000_000
        for first in range(1, sizes["activities"] + 1, chunk):
            started = time.perf_counter()
            last = min(sizes["activities"], first + chunk - 1)
            conn.execute("""INSERT INTO activities (customer_id, type, subject, activity_date)
                SELECT 1 + (random() * (%s - 1))::int,
                       (ARRAY['call','meeting','email','visit','other'])[1 + (random() * 4)::int], 'Activity ' || g,
                       (now() AT TIME ZONE 'utc') - random() * interval '730 days'
                FROM generate_series(%s, %s) g""", (n, first, last))
            echo(f"activities: {last:,} ({time.perf_counter() - started:.0f} s for the last {last - first + 1:,})")
        started = time.perf_counter()
        for ddl in creates:
            conn.execute(ddl)
        for table in sizes:
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_audit")
        echo(f"indexes and foreign keys in {time.perf_counter() - started:.0f} s")
        conn.execute("VACUUM (ANALYZE) customers, opportunities, leads, activities, service_tickets")
    return sizes


def timed_requests(client, url: str, n: int) -> tuple[list[float], list[float]]:
    """Milliseconds per GET, wall and CPU of this process (after one warm-up request)."""
    assert client.get(url).status_code == 200
    latencies, cpu = [], []
    for _ in range(n):
        started, cpu_started = time.perf_counter(), time.process_time()
        assert client.get(url).status_code == 200
        latencies.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return latencies, cpu


def counts(app) -> dict[str, int]:
    from app.extensions import db

    with app.app_context():
        return {t: db.session.scalar(text(f"SELECT count(*) FROM {t}"))
                for t in ("customers", "opportunities", "leads", "activities", "service_tickets")}


def add_history(app, days: int, echo=print) -> int:
    """Give every report type `days` of hourly snapshots (copies of its latest), as a year of cron would."""
    from app.ops.database import migration_database_url

    with psycopg.connect(libpq(migration_database_url(app.config)), autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM reports").fetchone()[0]
        if have >= days * 24:
            return have
        started = time.perf_counter()
        conn.execute("ALTER TABLE reports DISABLE TRIGGER reports_audit")  # bench data: no audit trail
        try:
            conn.execute("""INSERT INTO reports (report_type, data, generated_at)
                SELECT l.report_type, l.data, l.generated_at - h * interval '1 hour'
                FROM (SELECT DISTINCT ON (report_type) report_type, data, generated_at FROM reports
                      ORDER BY report_type, generated_at DESC) l, generate_series(1, %s) h""", (days * 24,))
        finally:
            conn.execute("ALTER TABLE reports ENABLE TRIGGER reports_audit")
        conn.execute("VACUUM (ANALYZE) reports")
        have = conn.execute("SELECT count(*) FROM reports").fetchone()[0]
        echo(f"history: {have:,} snapshots in {time.perf_counter() - started:.0f} s")
        return have


def timed_generation(app, types: list[str] | None, repeat: int, workers: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (this process: the decryption) seconds of `repeat` runs of generate(types)."""
    from app.extensions import db
    from app.reports.generators import generate

    wall, cpu = [], []
    with app.app_context():
        for _ in range(repeat):
            started, cpu_started = time.perf_counter(), time.process_time()
            generate(types, workers=workers)
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            db.session.remove()
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.25)
    parser.add_argument("--instance", default="/tmp/rep-bench")
    parser.add_argument("--repeat", type=int, default=3, help="generation runs to time (each type alone, then all)")
    parser.add_argument("--workers", type=int, default=None, help="scans at a time (default: the app's)")
    parser.add_argument("--requests", type=int, default=50, help="dashboard requests to time")
    parser.add_argument("--history-days", type=int, default=365, help="hourly snapshots kept before timing pages")
    parser.add_argument("--load-only", action="store_true", help="load the data set, time nothing")
    parser.add_argument("--all-only", action="store_true", help="time only the run of all reports")
    args = parser.parse_args()
    os.environ["CRM_INSTANCE_DIR"] = str(Path(args.instance).resolve())
    os.environ["CRM_DEMO_DATA"] = "0"

    from flask_migrate import upgrade

    from app import create_app
    from app.ops.bootstrap import bootstrap
    from app.extensions import db
    from app.reports.generators import REPORT_TYPES
    from app.reports.scans import WORKERS

    workers = args.workers or WORKERS
    app = create_app(ADMIN_PASSWORD=ADMIN_PASSWORD)
    with app.app_context():
        upgrade()
        bootstrap(app, echo=lambda *_: None)
    have = counts(app)
    want_customers = int(1_000_000 * args.scale)
    if have["customers"] != want_customers or have["activities"] != int(10_000_000 * args.scale):
        print(f"loading scale {args.scale} into {args.instance} ...")
        started = time.perf_counter()
        load(app, args.scale)
        print(f"loaded in {time.perf_counter() - started:.0f} s")
        have = counts(app)
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in have.items()))
    if args.load_only:
        return

    load_before = os.getloadavg()[0]
    alone = {} if args.all_only else {t: timed_generation(app, [t], args.repeat, workers)[0] for t in REPORT_TYPES}
    wall, cpu = timed_generation(app, None, args.repeat, workers)
    with app.app_context():
        scans = db.session.execute(text(
            "SELECT report_type, (data->>'duration_ms')::int FROM reports WHERE generated_at = "
            "(SELECT max(generated_at) FROM reports)")).all()
    snapshots = add_history(app, args.history_days)

    client = app.test_client()
    from tests.support.client import login  # the same CSRF-token login a browser does

    login(client, "admin", ADMIN_PASSWORD)
    pages = {url: timed_requests(client, url, args.requests) for url in ("/dashboard/", "/")}
    print(f"\n| report, generated alone ({args.repeat} runs, {workers} workers) | median s | p95 s |\n|---|---:|---:|")
    for name, values in alone.items():
        print(f"| {name} | {statistics.median(values):.2f} | {percentile(values, 95):.2f} |")
    print(f"| **all reports in one run** (shared scans) | **{statistics.median(wall):.1f}** | "
          f"**{percentile(wall, 95):.1f}** |")
    print(f"| CPU of the generating process (decryption) | {statistics.median(cpu):.1f} | {percentile(cpu, 95):.1f} |")
    print("\nlast run, each report's duration_ms (its scans in full, also when shared): "
          + ", ".join(f"{t} {ms:,}" for t, ms in scans))
    print(f"\n| page ({args.requests} requests, logged in as admin, {snapshots:,} snapshots) | median ms | p95 ms "
          "| CPU median ms |\n|---|---:|---:|---:|")
    for label, (values, cpu) in (("/dashboard/", pages["/dashboard/"]),
                                 ("/ (home: FAB layout and menu only)", pages["/"])):
        print(f"| {label} | {statistics.median(values):.1f} | {percentile(values, 95):.1f} "
              f"| {statistics.median(cpu):.1f} |")
    print(f"\nload average: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
