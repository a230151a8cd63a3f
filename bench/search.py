"""Search latency at bench scale: `python -m bench.search [--scale S | --customers N --activities M]`.

Fills a benchmark database (embedded PostgreSQL in --instance, default
/tmp/crm-bench) with the seed's data set (app.seed.loader), then times
  - the CRM-wide search (/search/'s service: all six entities, ranked), and
  - each entity's part of it (one statement per entity),
  - the list screens' "contains" filter (first page of 25, newest first, and the
    list's count, capped at 10,001 rows as the screens do),
for queries of 3+ characters (English, Chinese, e-mail, phone), for 1-2
character Chinese queries and for 1-2 letters or digits, and prints medians and
p95 as a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.seed.plan import ROWS_PER_SCALE, counts_for_scale
from bench.setup import DEFAULT_INSTANCE, bench_app, fill

FIXED_LONG = ["renewal", "contract renewal", "Logistics", "invoice", "Smith", "Holdings", "single sign-on",
              "合同续签", "科技有限公司", "系统无法登录", "深圳腾", "报价方案", "+86 13", "james.smith"]
LIST_TIMEOUT = "5s"  # a list statement stopped here counts as 5,000 ms (the bench must end)
FIXED_SHORT_CJK = ["华为", "深圳", "续签", "登录", "华", "科", "王", "伟"]
FIXED_SHORT_LATIN = ["ab", "co", "Li", "zh", "A", "7"]  # words starting with them


def sampled_queries(session, rng: random.Random, n: int = 10) -> tuple[list[str], list[str]]:
    """Substrings of real rows: 5-8 characters of names and e-mails, 2 CJK characters of Chinese names."""
    # REPEATABLE: the same rows (so the same queries) on every run over the same data
    names = session.scalars(text("SELECT name FROM customers TABLESAMPLE SYSTEM (0.1) REPEATABLE (7) "
                                 "WHERE name IS NOT NULL LIMIT 200")).all()
    emails = session.scalars(text("SELECT email FROM contacts TABLESAMPLE SYSTEM (0.1) REPEATABLE (7) "
                                  "WHERE email IS NOT NULL LIMIT 50")).all()
    long, short = [], []
    for value in rng.sample(names, min(n, len(names))) + rng.sample(emails, min(n // 2, len(emails))):
        size = rng.randint(5, 8)
        start = rng.randrange(max(1, len(value) - size))
        long.append(value[start:start + size].strip())
    chinese = [v for v in names if not v.isascii()]
    for value in rng.sample(chinese, min(n, len(chinese))):
        start = rng.randrange(len(value) - 2)
        short.append(value[start:start + 2])
    return long, short


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def list_page(app, model, column: str, query: str):
    """What a list screen runs for "<column> contains <query>": its count and first page of 25 newest,
    through the screen's own datamodel (CrmInterface: matches by the search index, then the page)."""
    from app.crud.datamodel import CrmInterface
    from app.search.filters import FilterContains

    datamodel = CrmInterface(model)
    pk = datamodel.get_pk_name()

    def run_page():
        # a request (and app context) of its own: the matches are memoised per request, in flask.g
        with app.app_context(), app.test_request_context("/"):
            filters = datamodel.get_filters([column]).add_filter(column, FilterContains, query)
            try:
                datamodel.session.execute(text(f"SET LOCAL statement_timeout = '{LIST_TIMEOUT}'"))
                datamodel.query_count(datamodel.session.query(model), filters)
                datamodel.page_rows(filters, pk, "desc", 0, 25)
            except OperationalError:  # stopped by LIST_TIMEOUT: the sample counts as that long
                pass
            datamodel.session.rollback()
    return run_page


def explain(session, statement) -> str:
    from sqlalchemy.dialects import postgresql

    compiled = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    sql = f"EXPLAIN (ANALYZE, BUFFERS) {compiled}".replace("%", "%%")
    rows = session.connection().exec_driver_sql(sql).all()
    return "\n".join(r[0] for r in rows)


def run(app, repeat: int, seed: int, profile: bool = False) -> list[tuple[str, str, int, float, float, float]]:
    from app.extensions import db
    from app.models import Activity, Customer
    from app.lists.planner import INDEX_LOOKUP_SETTINGS, set_for_transaction
    from app.search.conditions import Terms
    from app.search.service import ENTITIES, entity_statement, search, search_entity

    rows = []
    with app.app_context():
        session = db.session
        long_sampled, short_sampled = sampled_queries(session, random.Random(seed))
        classes = {"3+ characters": FIXED_LONG + long_sampled, "1-2 CJK characters": FIXED_SHORT_CJK + short_sampled,
                   "1-2 letters or digits": FIXED_SHORT_LATIN}

        workloads = {"CRM-wide search (/search/, 6 entities)": lambda q: (lambda: search(session, q))}
        for entity in ENTITIES:
            workloads[f"/search/ part: {entity.model.__tablename__}"] = (
                lambda e: lambda q: (lambda: (set_for_transaction(session, INDEX_LOOKUP_SETTINGS),
                                              search_entity(session, e, Terms(q)))))(entity)
        workloads["customers list, name contains (page + count)"] = lambda q: list_page(app, Customer, "name", q)
        workloads["activities list, subject contains (page + count)"] = (
            lambda q: list_page(app, Activity, "subject", q))
        for label, make in workloads.items():
            for kind, queries in classes.items():
                samples, worst = [], (0.0, "")
                for query in queries:
                    work = make(query)
                    work()  # warm the cache once; the numbers are for a warm server
                    times = timed(work, repeat)
                    samples += times
                    worst = max(worst, (statistics.median(times), query))
                    session.rollback()
                rows.append((label, kind, len(queries), statistics.median(samples), p95(samples), max(samples)))
                print(f"| {label} | {kind} | {len(queries)} | {rows[-1][3]:.1f} | {rows[-1][4]:.1f} | "
                      f"{rows[-1][5]:.1f} |", flush=True)
                entity = next((e for e in ENTITIES if label.endswith(f": {e.model.__tablename__}")), None)
                if profile and entity is not None and entity_statement(entity, Terms(worst[1])) is not None:
                    print(f"\n### {label}, {kind}: slowest query {worst[1]!r} ({worst[0]:.1f} ms)\n")
                    set_for_transaction(session, INDEX_LOOKUP_SETTINGS)
                    print(explain(session, entity_statement(entity, Terms(worst[1]))) + "\n")
                    session.rollback()
        db.session.remove()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", type=Path, default=DEFAULT_INSTANCE)
    parser.add_argument("--scale", type=float, default=None, help="1 = 1M customers, 10M activities")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=None, help="default: as many as customers")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true",
                        help="also print EXPLAIN (ANALYZE, BUFFERS) of each entity's slowest query")
    args = parser.parse_args()

    ratio = args.scale if args.scale is not None else args.customers / ROWS_PER_SCALE["customers"]
    wanted = {t: n for t, n in counts_for_scale(ratio).items() if t != "logs"}  # the search reads no logs
    if args.scale is None:
        wanted["activities"] = args.activities or args.customers
    app = bench_app(args.instance)
    sizes = fill(app, wanted)
    print("\nData: " + ", ".join(f"{n:,} {t}" for t, n in sizes.items()))
    print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    print(f"Timings in ms, warm server, {args.repeat} runs per query\n")
    results = run(app, args.repeat, args.seed, args.profile)
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}\n")
    print("| workload | queries | n | median | p95 | max |")
    print("|---|---|---:|---:|---:|---:|")
    for label, kind, n, median, p, worst in results:
        print(f"| {label} | {kind} | {n} | {median:.1f} | {p:.1f} | {worst:.1f} |")


if __name__ == "__main__":
    main()
