"""Server time of every CRM screen at bench scale, and the customers list's throughput under gunicorn.

    make bench                     # this, then the search benchmark
    python -m bench.screens [--runs 20] [--seconds 20] [--clients 8] [--user USERNAME] [--only fields]

Environment: BENCH_INSTANCE (default /tmp/crm-bench), BENCH_SCALE (default 1),
BENCH_WORKERS (gunicorn workers; default as `crm serve`: CRM_WORKERS, else CPU cores + 1), BENCH_PORT (8101).
The instance is seeded with `crm seed --scale BENCH_SCALE` unless it already
holds that much data; report snapshots and the dashboard's facts are generated when there are none.
Pages are requested from gunicorn (`crm serve`'s options) on loopback, signed
in as admin; a page slower than 5 s is timed once, and gunicorn stops a request
at 30 s, as in production. Queries per page are counted in process (test client).

`--user USERNAME` signs in as that user instead (a Sales Rep of the seed's staff, say `rep22`:
`flask --app run crm seed` names them rep<N> and manager<N>), whose password the bench sets, as
it does the admin's: every screen is then measured under that user's data scope (row-level
security), its rows (typical, biggest, the deep pages' offsets, "rows involved") chosen among
those the user sees. Run it once as admin and once as a rep for the two columns of
docs/performance.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from bench.served import TIMEOUT_S, Server, serve, throughput
from bench.dashboard_urls import measure_dashboard
from bench.field_urls import field_urls, filter_kinds
from bench.setup import as_user
from bench.timing import Statements, percentile, signed_in_client

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "Bench-admin-pass-2026"
PAGE_SIZE = 25
DEEP_PAGES = (5_000,)  # list pages measured past the first (0-based page index as FAB's page_<View>)


@dataclass(frozen=True)
class ListScreen:
    """One list screen and how to filter and sort it."""

    path: str
    view: str
    table: str
    pk: str
    filter: tuple[str, str, str, str]  # view column, FAB filter class, value, SQL condition for the row count
    sort: str
    forms: bool = True  # add and edit forms
    parent: str | None = None  # the biggest parent row's show page lists this many children (SQL)


SCREENS = [
    ListScreen("/customers/", "CustomerView", "customers", "customer_id",
               ("industry", "FilterEqual", "Finance", "industry = 'Finance'"), "name",
               parent="(SELECT count(*) FROM contacts WHERE customer_id = {pk}) + "
                      "(SELECT count(*) FROM opportunities WHERE customer_id = {pk}) + "
                      "(SELECT count(*) FROM activities WHERE customer_id = {pk}) + "
                      "(SELECT count(*) FROM service_tickets WHERE customer_id = {pk})"),
    ListScreen("/contacts/", "ContactView", "contacts", "contact_id",
               ("customer", "FilterRelationOneToManyEqual", "{big_customer}", "customer_id = {big_customer}"),
               "last_name",
               parent="(SELECT count(*) FROM leads WHERE contact_id = {pk}) + "
                      "(SELECT count(*) FROM activities WHERE contact_id = {pk})"),
    ListScreen("/leads/", "LeadView", "leads", "lead_id",
               ("status", "FilterEqual", "qualified", "status = 'qualified'"), "source"),
    ListScreen("/opportunities/", "OpportunityView", "opportunities", "opportunity_id",
               ("stage", "FilterEqual", "negotiation", "stage = 'negotiation'"), "close_date"),
    ListScreen("/activities/", "ActivityView", "activities", "activity_id",
               ("type", "FilterEqual", "visit", "type = 'visit'"), "subject"),
    ListScreen("/tickets/", "TicketView", "service_tickets", "ticket_id",
               ("status", "FilterEqual", "open", "status = 'open'"), "priority"),
    ListScreen("/reports/", "ReportView", "reports", "report_id",
               ("report_type", "FilterEqual", "pipeline_by_stage", "report_type = 'pipeline_by_stage'"),
               "report_type", forms=False),
    ListScreen("/logs/", "LogView", "logs", "log_id",
               ("table_name", "FilterEqual", "customers", "table_name = 'customers'"), "action", forms=False),
]
SEARCHES = {"3+ characters": ["renewal", "Logistics", "invoice", "合同续签"],
            "1-2 CJK characters": ["深圳", "续签", "华", "王"],
            "1-2 letters or digits": ["ab", "co", "Li", "7"]}

# the lists' search box (`?q=`, app/search/quick.py): words of each kind, and two words at once
QUICK_SEARCHES = {
    "customers": ["Logistics", "深圳", "co", "科技 深圳"],
    "contacts": ["Wang", "王", "li", "经理"],
    "activities": ["renewal", "合同续签", "续签", "ab"],
    "service_tickets": ["invoice", "故障", "7", "login error"],
}


@dataclass
class Row:
    screen: str
    rows: str
    times: list[float]
    status: str = "200"
    url: str = ""
    queries: int = 0
    slowest: tuple[float, str, object] | None = None  # (ms, SQL, parameters) of one request


# ---------------------------------------------------------------- instance
def prepare(instance: Path, scale: float, user: str = "admin"):
    """Start the instance's database, migrate, bootstrap, seed to `scale`, generate reports; the app.
    `user` (besides the admin) gets the bench's password and may sign in."""
    os.environ["CRM_INSTANCE_DIR"] = str(instance)
    os.environ["CRM_DEMO_DATA"] = "0"
    os.environ["CRM_WAL_ARCHIVE"] = "0"  # a bulk load's GBs of WAL are not worth keeping
    os.environ.setdefault("CRM_ADMIN_PASSWORD", ADMIN_PASSWORD)
    from sqlalchemy import select, text

    from app import create_app
    from app.ops.cli import migrate_and_bootstrap
    from app.security.passwords import set_password
    from app.ops.database import owner_engine
    from app.ops.embedded_db import EmbeddedPostgres
    from app.extensions import db
    from app.models import User
    from app.seed.plan import counts_for_scale

    instance.mkdir(parents=True, exist_ok=True)
    server = EmbeddedPostgres(instance)
    started = server.start()
    # a bulk load writes GBs of WAL: fewer checkpoints, yet bounded disk (benchmark instance only)
    server.psql("ALTER SYSTEM SET max_wal_size = '3GB'")
    server.psql("SELECT pg_reload_conf()")
    app = create_app()
    with app.app_context():
        migrate_and_bootstrap(app, echo=lambda *_: None)  # as `crm serve` does
        for username in {"admin", user}:
            account = db.session.scalar(select(User).where(User.username == username))
            if account is None:
                raise SystemExit(f"no user {username!r} on {instance} (the seed's staff are rep<N>, manager<N>)")
            set_password(account, ADMIN_PASSWORD)
            account.active, account.fail_login_count, account.locked_until = True, 0, None
        db.session.commit()
        wanted = counts_for_scale(scale)["customers"]
        db.session.remove()
        # as the owner role: row-level security shows the runtime role no row without a user
        with owner_engine(app.config) as engine, engine.connect() as conn:
            have = conn.scalar(text("SELECT count(*) FROM customers"))
            reports = conn.scalar(text("SELECT (SELECT count(*) FROM reports) * (SELECT count(*) FROM dashboard_facts)"))
    flask = [sys.executable, "-m", "flask", "--app", "run", "crm"]
    if have < wanted * 0.99:
        missing = round((wanted - have) / counts_for_scale(1)["customers"], 6)
        print(f"Seeding {instance} with scale {missing:g} (it holds {have:,} of {wanted:,} customers) ...",
              flush=True)
        begun = time.monotonic()
        subprocess.run([*flask, "seed", "--scale", str(missing)], cwd=ROOT, check=True)
        print(f"seeded in {time.monotonic() - begun:.0f} s", flush=True)
    if not reports:
        subprocess.run([*flask, "reports", "generate"], cwd=ROOT, check=True)
    return app, server if started else None


def data_size(app) -> tuple[dict[str, int], str]:
    from sqlalchemy import text

    from app.ops.database import owner_engine

    # as the owner role: row-level security shows the runtime role no row without a user
    with owner_engine(app.config) as engine, engine.connect() as conn:
        counts = {s.table: conn.scalar(text(f"SELECT count(*) FROM {s.table}")) for s in SCREENS}
        size = conn.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    return counts, size


# ---------------------------------------------------------------- per-screen server time
def filter_arg(app, screen: ListScreen, values: dict[str, str]) -> str:
    """`_flt_<index>_<column>=<value>` for the screen's filter (FAB numbers filters per column)."""
    column, kind, value, _sql = screen.filter
    index = filter_kinds(app, screen.view, column).index(kind)
    return f"_flt_{index}_{column}={urllib.parse.quote(value.format(**values))}"


SLOW_MS = 5_000  # a page slower than this once is timed once (its p95 is far off anyway)


WARM_UP = 4  # requests per URL and gunicorn worker before timing: each worker has served it (plans, caches)


def timed(server: Server, url: str, runs: int) -> tuple[list[float], str]:
    status, first = server.get(url)  # warm-up (caches, plans)
    if status != "timeout" and first > SLOW_MS:
        # once more: the first may have read its rows from disk. The operating system can page out a
        # database's cached pages untouched for a minute (this machine's DAMON reclaim does): a page of
        # 40 ms warm took 5-6 s on its first request after the screens before it (docs/performance.md)
        status, first = server.get(url)
    if status == "timeout" or first > SLOW_MS:
        return [first], status
    for _ in range(WARM_UP * server.workers - 1):  # workers take requests in no set order
        server.get(url)
    times = []
    for _ in range(runs):
        status, ms = server.get(url)
        times.append(ms)
    return times, status


def screen_rows(app, server: Server, runs: int, counts: dict[str, int], echo=print,
                user: str = "admin", only: str | None = None) -> list[Row]:
    from app.extensions import db

    # the rows the signed-in user sees (the admin: every row, read as the owner role)
    scalar = as_user(app, user)
    if user != "admin":
        counts = {table: scalar(f"SELECT count(*) FROM {table}") for table in counts}

    # the biggest account (the seed's power law gives the lowest ids most children) and a typical row
    big_customer = scalar("SELECT customer_id FROM activities GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    values = {"big_customer": str(big_customer)}
    client = signed_in_client(app, user, ADMIN_PASSWORD)
    rows: list[Row] = []
    with app.app_context():
        statements = Statements(db.engine)

    def measure(label: str, url: str, involved: str) -> None:
        times, status = timed(server, url, runs)
        # queries of one request, in process (skipped for pages that are too slow to repeat)
        slow = status == "timeout" or (len(times) == 1 and times[0] > SLOW_MS)
        queries, slowest = statements.of(client, url) if not slow else (0, None)
        rows.append(Row(label, involved, times, status, url, queries, slowest))
        echo(f"  {statistics.median(times):8.1f} ms  {status}  {queries:3} queries  {url}")

    for label, url, involved in field_urls(app, scalar, counts):  # the custom fields' screens (issue 23)
        measure(label, url, involved)
    if only == "fields":
        return rows
    for s in SCREENS:
        total = f"{counts[s.table]:,}"
        list_url = f"{s.path}list/"
        measure(f"{s.path} list, first page", list_url, total)
        matching = scalar(f"SELECT count(*) FROM {s.table} WHERE {s.filter[3].format(**values)}")
        measure(f"{s.path} list, filtered ({s.filter[0]} {s.filter[2].format(**values)})",
                f"{list_url}?{filter_arg(app, s, values)}", f"{matching:,} of {total}")
        measure(f"{s.path} list, sorted by {s.sort}", f"{list_url}?_oc_{s.view}={s.sort}&_od_{s.view}=asc", total)
        for page in sorted({min(p, max(0, counts[s.table] // PAGE_SIZE - 1)) for p in DEEP_PAGES}):
            if s.table == "logs":  # keyset paging: the cursor of the row where that page starts
                cursor = scalar(f"SELECT created_at::text || '~' || log_id FROM logs ORDER BY created_at DESC, "
                                f"log_id DESC OFFSET {page * PAGE_SIZE - 1} LIMIT 1")
                url = f"{list_url}?after={urllib.parse.quote(cursor.replace(' ', 'T'))}"
            else:
                url = f"{list_url}?page_{s.view}={page}"
            measure(f"{s.path} list, page {page:,}", url, f"offset {page * PAGE_SIZE:,} of {total}")
        typical = scalar(f"SELECT {s.pk} FROM {s.table} ORDER BY {s.pk} LIMIT 1 OFFSET {counts[s.table] // 2}")
        shows = [("typical row", typical)]
        if s.table == "customers":
            shows.insert(0, ("biggest customer", big_customer))
        elif s.table == "contacts":
            busiest = scalar("SELECT contact_id FROM activities WHERE contact_id IS NOT NULL "
                             "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
            shows.insert(0, ("busiest contact", busiest))
        for kind, pk in shows:
            related = f"{scalar('SELECT ' + s.parent.format(pk=pk)):,} related" if s.parent else "1"
            measure(f"{s.path} show, {kind}", f"{s.path}show/{pk}", related)
        if s.forms:
            measure(f"{s.path} add form", f"{s.path}add", "-")
            measure(f"{s.path} edit form", f"{s.path}edit/{typical}", "1")
    searched = sum(counts[t] for t in ("customers", "contacts", "leads", "opportunities", "activities",
                                       "service_tickets"))
    for kind, queries in SEARCHES.items():
        times: list[float] = []
        for query in queries:
            url = f"/search/?q={urllib.parse.quote(query)}"
            part, status = timed(server, url, runs)  # each query as often as a screen: a p95 of 80, not 20
            times += part
            echo(f"  {statistics.median(part):8.1f} ms  {status}  {url}")
        count, slowest = statements.of(client, url) if max(part) < SLOW_MS else (0, None)
        rows.append(Row(f"/search/?q= {kind} ({', '.join(queries)})", f"{searched:,} in 6 tables", times,
                        status, url, count, slowest))
    for s in SCREENS:
        words = QUICK_SEARCHES.get(s.table)
        if not words:
            continue
        times = []
        for query in words:
            url = f"{s.path}list/?q={urllib.parse.quote(query)}"
            part, status = timed(server, url, runs)
            times += part
            echo(f"  {statistics.median(part):8.1f} ms  {status}  {url}")
        count, slowest = statements.of(client, url) if max(part) < SLOW_MS else (0, None)
        rows.append(Row(f"{s.path} list, quick search ?q= ({', '.join(words)})", f"{counts[s.table]:,}", times,
                        status, url, count, slowest))
        measure(f"{s.path} list, quick search ?q={words[0]} and filtered ({s.filter[0]})",
                f"{s.path}list/?q={urllib.parse.quote(words[0])}&{filter_arg(app, s, values)}", f"{counts[s.table]:,}")
    measure_dashboard(measure, scalar)
    return rows


# ---------------------------------------------------------------- report
def table(rows: list[Row]) -> str:
    lines = ["| screen | rows involved | median ms | p95 ms | n | queries | slowest query ms |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        flag = "" if row.status == "200" else f" (HTTP {row.status})"
        lines.append(f"| {row.screen}{flag} | {row.rows} | {statistics.median(row.times):.1f} | "
                     f"{percentile(row.times, 95):.1f} | {len(row.times)} | {row.queries} | "
                     f"{row.slowest[0] if row.slowest else 0:.1f} |")
    return "\n".join(lines)


def explain_slow(app, rows: list[Row], path: Path, user: str = "admin") -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the slowest statement of each screen over 50 ms p95, into `path`."""
    from app.audit.context import act_as_user
    from app.extensions import db

    with app.app_context(), path.open("w") as out:
        for row in rows:
            if percentile(row.times, 95) < 50 or not row.slowest:
                continue
            ms, statement, parameters = row.slowest
            out.write(f"### {row.screen}: {row.url}\n{row.queries} queries; slowest {ms:.1f} ms:\n{statement}\n"
                      f"parameters: {parameters!r}\n")
            try:
                with db.engine.connect() as conn:
                    # as the signed-in user of the measured request: the row-level policies need a user
                    act_as_user(conn, user)
                    plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
                out.write("\n".join(r[0] for r in plan) + "\n\n")
            except Exception as exc:  # noqa: BLE001 - a plan that cannot be taken is reported, not fatal
                out.write(f"(no plan: {exc})\n\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "20")))
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the throughput run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--user", default="admin", help="sign in as this user (e.g. a Sales Rep: rep22)")
    parser.add_argument("--only", choices=["fields"], help="fields: only the custom fields' screens")
    args = parser.parse_args(argv)
    instance = Path(os.environ.get("BENCH_INSTANCE", "/tmp/crm-bench")).resolve()
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    from app.ops.cli import default_workers

    workers = int(os.environ.get("BENCH_WORKERS", default_workers()))
    port = int(os.environ.get("BENCH_PORT", "8101"))
    app, started_server = prepare(instance, scale, args.user)
    try:
        counts, size = data_size(app)
        load = os.getloadavg()[0]
        print(f"\nData: {', '.join(f'{n:,} {t}' for t, n in counts.items())}; database {size}", flush=True)
        server = serve(instance, workers, port, ADMIN_PASSWORD, username=args.user)
        try:
            rows = screen_rows(app, server, args.runs, counts, user=args.user, only=args.only)
            result = throughput(server, workers, args.seconds, args.clients)
        finally:
            server.proc.terminate()
            server.proc.wait(timeout=30)
        print(f"\n## Screens: time per request (gunicorn on loopback, signed in as {args.user}), {args.runs} runs each "
              f"(1 when the first took over {SLOW_MS / 1000:.0f} s; gunicorn stops a request at {TIMEOUT_S} s)\n")
        print(f"{dt.date.today()}, {os.cpu_count()} CPUs (load average {load:.1f} at start, "
              f"{os.getloadavg()[0]:.1f} at end), PostgreSQL 18 embedded, scale {scale:g}: "
              f"{', '.join(f'{n:,} {t}' for t, n in counts.items())}; database {size}\n")
        print(table(rows))
        fast = sum(1 for r in rows if percentile(r.times, 95) < 50)
        explained = instance / "bench-explain.txt"
        explain_slow(app, rows, explained, args.user)
        print(f"\n{fast} of {len(rows)} screens under 50 ms p95; plans of the others' slowest statements: {explained}")
        rss = ", ".join(f"{r / 2**20:.0f} MB" for r in result["rss"])
        print(f"\n## Throughput: {result['path']} under gunicorn ({result['workers']} workers, "
              f"{result['clients']} concurrent clients on loopback, {result['seconds']:.0f} s)\n")
        print(f"{result['rps']:.1f} requests/s ({result['requests']:,} requests, statuses {result['statuses']}), "
              f"latency median {result['median']:.0f} ms, p95 {result['p95']:.0f} ms; "
              f"worker RSS afterwards: {rss}")
        per_request = {k: v * 1000 / max(1, result["requests"]) for k, v in result["cpu"].items()}
        print(f"CPU per request: gunicorn workers {per_request['gunicorn']:.1f} ms, "
              f"PostgreSQL {per_request['postgres']:.1f} ms (on {os.cpu_count()} CPUs)")
    finally:
        if started_server is not None:
            started_server.stop()


if __name__ == "__main__":
    main()
