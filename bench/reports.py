"""Benchmark: generating every report, and the dashboard page, on a bulk-loaded data set.

    python -m bench.reports [--scale 0.25] [--instance /tmp/rep-bench] [--repeat 3] [--requests 50]

Scale 1 is the contract's bench size: 1M customers, 2M opportunities, 10M
activities (plus 1M leads and 500k tickets). The data is loaded once into its
own embedded PostgreSQL in --instance and reused while the size matches.
Customers and opportunities go in with COPY: their amounts are encrypted in
Python under the instance's key ring. Leads, activities and tickets have no
encrypted column and are generated inside the server (INSERT ... SELECT
generate_series), which is faster than sending 10M rows through COPY.
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
    from app.database import migration_database_url
    from app.encryption.columns import band_of, key_ring

    sizes = {"customers": int(1_000_000 * scale), "opportunities": int(2_000_000 * scale),
             "leads": int(1_000_000 * scale), "activities": int(10_000_000 * scale),
             "service_tickets": int(500_000 * scale)}
    ring = key_ring(app.config["INSTANCE_DIR"])
    rng = random.Random(6)
    today = dt.date.today()
    with psycopg.connect(libpq(migration_database_url(app.config)), autocommit=True) as conn:
        conn.execute("TRUNCATE activities, service_tickets, opportunities, leads, contacts, customers, reports "
                     "RESTART IDENTITY")
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
        conn.execute("VACUUM (ANALYZE) customers, opportunities, leads, activities, service_tickets")
    return sizes


def timed_requests(client, url: str, n: int) -> list[float]:
    """Milliseconds per GET (after one warm-up request)."""
    assert client.get(url).status_code == 200
    latencies = []
    for _ in range(n):
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def counts(app) -> dict[str, int]:
    from app.extensions import db

    with app.app_context():
        return {t: db.session.scalar(text(f"SELECT count(*) FROM {t}"))
                for t in ("customers", "opportunities", "leads", "activities", "service_tickets")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.25)
    parser.add_argument("--instance", default="/tmp/rep-bench")
    parser.add_argument("--repeat", type=int, default=3, help="full generation runs to time")
    parser.add_argument("--requests", type=int, default=50, help="dashboard requests to time")
    args = parser.parse_args()
    os.environ["CRM_INSTANCE_DIR"] = str(Path(args.instance).resolve())
    os.environ["CRM_DEMO_DATA"] = "0"

    from flask_migrate import upgrade

    from app import create_app
    from app.bootstrap import bootstrap
    from app.extensions import db
    from app.reports.generators import REPORT_TYPES, generate_one

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

    per_type: dict[str, list[float]] = {t: [] for t in REPORT_TYPES}
    totals = []
    with app.app_context():
        for _ in range(args.repeat):
            run_started = time.perf_counter()
            for name in REPORT_TYPES:
                started = time.perf_counter()
                generate_one(name)
                per_type[name].append(time.perf_counter() - started)
            totals.append(time.perf_counter() - run_started)
            db.session.remove()

    client = app.test_client()
    from tests.conftest import login  # the same CSRF-token login a browser does

    login(client, "admin", ADMIN_PASSWORD)
    pages = {url: timed_requests(client, url, args.requests) for url in ("/dashboard/", "/")}
    from app.reports.charts import figures
    from app.reports.snapshots import latest

    own = []
    with app.test_request_context():
        for _ in range(args.requests):
            started = time.perf_counter()
            for snap in latest().values():
                figures(snap.report_type, snap.data, snap.generated_at)
            own.append((time.perf_counter() - started) * 1000)
            db.session.remove()
    print(f"\n| report ({args.repeat} runs) | median s | p95 s |\n|---|---:|---:|")
    for name, values in per_type.items():
        print(f"| {name} | {statistics.median(values):.2f} | {percentile(values, 95):.2f} |")
    print(f"| **all reports** | **{statistics.median(totals):.1f}** | **{percentile(totals, 95):.1f}** |")
    print(f"\n| page ({args.requests} requests, logged in as admin) | median ms | p95 ms |\n|---|---:|---:|")
    for label, values in (("/dashboard/", pages["/dashboard/"]), ("/ (home: FAB layout and menu only)", pages["/"]),
                          ("dashboard's own work: read latest snapshots + build charts", own)):
        print(f"| {label} | {statistics.median(values):.1f} | {percentile(values, 95):.1f} |")
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
