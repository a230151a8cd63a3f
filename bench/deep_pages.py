"""List and show pages at depth: server time and SQL statements per page.

    python -m bench.deep_pages --instance /tmp/scale-bench --password P [--runs 7]

Signs in as admin on an existing benchmark instance (filled with
the seed's loader, e.g. bench/setup.py fill()), then requests, per list
screen: the first page, a page at offset 1,000, a deep page (the middle of the
table by FAB's `page_<View>=N`), the next page reached by the list's own
"Next" link from the deep page (keyset when available), the last page (the
list's own "Last" link), a sorted first page, a sorted deep page and a
filtered first page; and a show page with its related lists. Prints the
median and p95 server time, the time spent in SQL and the number of SQL
statements per page.
"""
from __future__ import annotations

import argparse
import html
import os
import re
import statistics
import time
from pathlib import Path

from sqlalchemy import event, text

LISTS = {  # route: (view, a sortable column, a filter argument)
    "customers": ("CustomerView", "name", "_flt_0_industry=Finance"),
    "contacts": ("ContactView", "last_name", "_flt_4_position=CEO"),
    "leads": ("LeadView", "status", "_flt_4_status=qualified"),
    "opportunities": ("OpportunityView", "close_date", "_flt_4_stage=won"),
    "activities": ("ActivityView", "type", "_flt_4_type=visit"),
    "tickets": ("TicketView", "priority", "_flt_4_status=open"),
}
TABLES = {"tickets": "service_tickets"}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def link(page: str, rel: str) -> str | None:
    """The href of the pager link with this rel (next / last), if the page has one."""
    match = re.search(rf'<a[^>]*rel="{rel}"[^>]*href="([^"]+)"', page) or \
        re.search(rf'<a[^>]*href="([^"]+)"[^>]*rel="{rel}"', page)
    return html.unescape(match.group(1)) if match else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", type=Path, default=Path("/tmp/scale-bench"))
    parser.add_argument("--password", required=True, help="the admin password of that instance")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    from app import create_app
    from app.extensions import db
    from config import Config

    app = create_app(Config, INSTANCE_DIR=args.instance, DEMO_DATA=False)
    statements: list[str] = []
    sql_ms: list[float] = []
    with app.app_context():
        def before(conn, cursor, stmt, *a):
            statements.append(stmt)
            conn.info["crm_bench_started"] = time.perf_counter()

        def after(conn, *a):
            sql_ms.append((time.perf_counter() - conn.info.pop("crm_bench_started")) * 1000)

        event.listen(db.engine, "before_cursor_execute", before)
        event.listen(db.engine, "after_cursor_execute", after)
        sizes = {route: db.session.scalar(text(f"SELECT count(*) FROM {TABLES.get(route, route)}"))
                 for route in LISTS}
        customer = db.session.scalar(text("SELECT customer_id FROM activities ORDER BY activity_id LIMIT 1"))
        db.session.remove()
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login/").text).group(1)
    assert client.post("/login/", data={"username": "admin", "password": args.password,
                                        "csrf_token": token}).status_code == 302

    def measure(label: str, url: str) -> str:
        times, sql_times, counts, body = [], [], [], ""
        for _ in range(args.runs):
            statements.clear()
            sql_ms.clear()
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            sql_times.append(sum(sql_ms))
            counts.append(len(statements))
            assert response.status_code == 200, (url, response.status_code)
            body = response.text
        print(f"| {label} | {statistics.median(times):.1f} | {p95(times):.1f} | "
              f"{statistics.median(sql_times):.1f} | {max(counts)} |", flush=True)
        return body

    print(f"Data: {', '.join(f'{n:,} {r}' for r, n in sizes.items())}; {args.runs} runs per page\n")
    print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start\n")
    print("| page | median ms | p95 ms | SQL ms (median) | SQL statements |")
    print("|---|---:|---:|---:|---:|")
    for route, (view, column, filter_arg) in LISTS.items():
        pages = sizes[route] // 25
        base = f"/{route}/list/"
        first = measure(f"{route}: first page", base)
        measure(f"{route}: page 41 (offset 1,000)", f"{base}?page_{view}=40")
        deep = measure(f"{route}: page {pages // 2:,} (middle)", f"{base}?page_{view}={pages // 2}")
        following = link(deep, "next")
        if following:
            measure(f"{route}: next page after the middle", following)
        last = link(first, "last")
        if last:
            measure(f"{route}: last page (the list's link)", last)
        measure(f"{route}: sorted by {column}", f"{base}?_oc_{view}={column}&_od_{view}=asc")
        measure(f"{route}: sorted by {column}, page {pages // 2:,}",
                f"{base}?_oc_{view}={column}&_od_{view}=asc&page_{view}={pages // 2}")
        measure(f"{route}: filtered ({filter_arg})", f"{base}?{filter_arg}")
    measure("customer show page (4 related lists)", f"/customers/show/{customer}")


if __name__ == "__main__":
    main()
