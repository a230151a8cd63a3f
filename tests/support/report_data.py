"""A known data set for the report tests, and its snapshots generated through the CLI."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from app.models import Customer, Opportunity
from app.models.choices import LEAD_STATUSES, OPPORTUNITY_STAGES

TYPES = ["pipeline_by_stage", "won_lost_by_month", "revenue_by_industry", "customers_by_location",
         "lead_funnel", "activities_by_week", "open_tickets", "ticket_age"]
INDUSTRIES = ["Technology", "制造业", "Retail", "Finance", None]
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None)


@pytest.fixture
def known(add_rows, sql) -> dict:
    """A fixed data set; returns the money inputs the expected sums are computed from."""
    rng = random.Random(6)
    customers = [{"name": f"Customer {i}", "industry": INDUSTRIES[i % len(INDUSTRIES)], "location": "上海",
                  "revenue": None if i % 7 == 0 else Decimal(rng.randint(0, 10**9)) / 100} for i in range(40)]
    customer_ids = add_rows(Customer, *customers)
    # 25 locations with 1..25 customers each: the 20 largest by name, 5 in "other"
    sql("INSERT INTO customers (name, location) SELECT 'loc ' || l || '-' || n, 'City ' || l "
        "FROM generate_series(1, 25) l, generate_series(1, l) n")
    opportunities = []
    for i in range(150):
        months_back = rng.randint(0, 29)
        close = (NOW - dt.timedelta(days=30.5 * months_back + rng.randint(0, 20))).date()
        opportunities.append({"customer_id": customer_ids[i % 40], "name": f"Deal {i}",
                              "stage": OPPORTUNITY_STAGES[i % len(OPPORTUNITY_STAGES)],
                              "value": None if i % 11 == 0 else Decimal(rng.randint(0, 10**8)) / 100,
                              "close_date": None if i % 13 == 0 else close})
    add_rows(Opportunity, *opportunities)
    sources = ["Website", "展会", "Referral", None] + [f"Source {k}" for k in range(22)]
    for i in range(300):
        sql("INSERT INTO leads (source, status) VALUES (:s, :st)",
            s=sources[i % len(sources)] if i % 3 else sources[i % 4], st=LEAD_STATUSES[(i * 7) % 5])
    sql("INSERT INTO activities (type, subject, activity_date) "
        "SELECT (ARRAY['call','meeting','email','visit','other'])[1 + i % 5], 'a' || i, "
        "(now() AT TIME ZONE 'utc') - (i * interval '19 hours') FROM generate_series(1, 700) i")
    sql("INSERT INTO service_tickets (customer_id, subject, status, priority, created_at) "
        "SELECT :c, 't' || i, (ARRAY['open','in progress','resolved','closed'])[1 + i % 4], "
        "(ARRAY['low','medium','high','urgent'])[1 + (i / 4) % 4], "
        "(now() AT TIME ZONE 'utc') - (i * i * interval '37 minutes') FROM generate_series(1, 90) i",
        c=customer_ids[0])
    return {"customers": customers, "opportunities": opportunities}


@pytest.fixture
def snapshots(app, known, sql) -> dict[str, tuple[dt.datetime, dict]]:
    result = app.test_cli_runner().invoke(args=["crm", "reports", "generate"])
    assert result.exit_code == 0, result.output
    assert "8 snapshot(s) written." in result.output
    rows = sql("SELECT report_type, generated_at, data, report_id FROM reports WHERE data ? 'duration_ms'")
    assert sorted(r[0] for r in rows) == sorted(TYPES)
    return {t: (at, opened(app, data, pk)) for t, at, data, pk in rows}


def opened(app, data: dict, report_id: int) -> dict:
    """A stored snapshot with its sealed money figures decrypted (as the dashboard reads it)."""
    from app.encryption.columns import key_ring
    from app.reports.sealing import open_figures

    with app.app_context():
        return open_figures(data, report_id, key_ring())
