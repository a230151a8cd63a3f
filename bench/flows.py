"""Server time of the customer 360 page and the pipeline board at size.

    python -m bench.flows [--instance /tmp/flows-bench] [--opportunities 500000] [--activities 100000] [--runs 20]

Fills a benchmark database (embedded PostgreSQL in --instance) with synthetic
customers, contacts and opportunities (the seed's loader, bench/setup.py fill()), gives
customer #1 --activities activities and 2,000 open opportunities of its own, then
times, through the app (Flask test client, signed in as admin): the 360 page of
that customer (first timeline page and a deep one), and the board unfiltered,
filtered by industry and by value band. Prints median and p95 per page.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import psycopg

from bench import setup
from bench.setup import bench_app
from bench.timing import signed_in_client, time_get

PASSWORD = "Bench-admin-password-2026"


def fill(app, opportunities: int, activities: int) -> dict[str, int]:
    from app.ops.database import owner_conninfo

    customers = max(1000, opportunities // 10)
    setup.fill(app, {"customers": customers, "contacts": customers, "opportunities": opportunities}, echo=print)
    with psycopg.connect(owner_conninfo(app.config), autocommit=True) as conn:
        heavy = conn.execute("SELECT count(*) FROM activities WHERE customer_id = 1").fetchone()[0]
        if heavy < activities:
            conn.execute("ALTER TABLE activities DISABLE TRIGGER USER")  # a bulk load: not audited
            conn.execute("INSERT INTO activities (customer_id, type, subject, activity_date) "
                         "SELECT 1, 'email', 'Bench mail ' || i, now() - i * interval '1 minute' "
                         "FROM generate_series(1, %s) i", (activities - heavy,))
            conn.execute("ALTER TABLE activities ENABLE TRIGGER USER")
            conn.execute("VACUUM (ANALYZE) activities")
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("customers", "opportunities", "activities")}
    return counts


def own_opportunities(app, wanted: int = 2000) -> None:
    """Customer #1's open opportunities, written through the ORM (values are encrypted)."""
    from decimal import Decimal

    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Opportunity

    with app.app_context():
        have = db.session.scalar(select(func.count()).where(Opportunity.customer_id == 1,
                                                            Opportunity.stage == "proposal"))
        db.session.add_all(Opportunity(customer_id=1, name=f"Bench deal {i}", stage="proposal",
                                       value=Decimal(1000 + i)) for i in range(have, wanted))
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", type=Path, default=Path("/tmp/flows-bench"))
    parser.add_argument("--opportunities", type=int, default=500_000)
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    app = bench_app(args.instance)
    app.config["ADMIN_PASSWORD"] = PASSWORD
    with app.app_context():
        from app.ops.bootstrap import bootstrap

        bootstrap(app, echo=lambda *_: None)
    counts = fill(app, args.opportunities, args.activities)
    own_opportunities(app)
    print("rows:", ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    password = args.instance / "admin-password"
    client = signed_in_client(app, "admin", password.read_text().strip() if password.exists() else PASSWORD)
    first = client.get("/customers/show/1").text
    deep = re.search(r'href="([^"]*timeline_before=[^"#]+)#timeline"', first).group(1).replace("&amp;", "&")
    for _ in range(30):  # follow "Older" 30 pages down
        page = client.get(deep).text
        deep = re.search(r'href="([^"]*timeline_before=[^"#]+)#timeline"', page).group(1).replace("&amp;", "&")
    pages = {"360 page, customer with the activities": "/customers/show/1",
             "360 page, timeline 30 pages down": deep,
             "board, unfiltered": "/pipeline/",
             "board, industry contains 'Retail'": "/pipeline/?industry=Retail",
             "board, value band 100K-1M": "/pipeline/?band=3",
             "board, close date in one month": "/pipeline/?close_from=2026-01-01&close_to=2026-01-31"}
    for label, path in pages.items():
        median, p95 = time_get(client, path, args.runs)
        print(f"{label:42} median {median:8.1f} ms   p95 {p95:8.1f} ms   (n={args.runs})")


if __name__ == "__main__":
    main()
