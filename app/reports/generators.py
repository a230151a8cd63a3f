"""One generator per report type; each computes its numbers and writes one snapshot row.

Counts are aggregated in SQL. Money (customers.revenue, opportunities.value) is
ciphertext in the database, so it is streamed in batches, decrypted with the
app's key ring and summed in Python; SQL never sums, averages or sorts it.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import jsonschema
from sqlalchemy import ARRAY, DateTime, LargeBinary, Numeric, bindparam, func, inspect, select, text, type_coerce

from app.choices import ACTIVITY_TYPES, LEAD_STATUSES, OPPORTUNITY_STAGES, PRIORITIES
from app.encryption.columns import encrypted_columns, key_ring, primary_key_of
from app.extensions import db
from app.i18n.labels import N_
from app.models import Activity, Customer, Lead, Opportunity, Report, ServiceTicket

SCHEMAS = Path(__file__).with_name("schemas")
BATCH = 20_000
TOP = 20  # categories shown by name; the rest are summed into "other"
MONTHS = 24
WEEKS = 26
OPEN_TICKET_STATUSES = ("open", "in progress")
CONVERTED = "converted"
# (label, from days, to days) of an open ticket's age; None = no upper bound
AGE_BUCKETS = ((N_("under 1 day"), 0, 1), (N_("1–3 days"), 1, 3), (N_("3–7 days"), 3, 7), (N_("1–4 weeks"), 7, 28),
               (N_("1–3 months"), 28, 90), (N_("over 3 months"), 90, None))
# one advisory-lock key for "reports are being generated" (cron and the button may overlap)
LOCK_KEY = 0x5245504F  # "REPO"


@dataclass(frozen=True)
class ReportType:
    name: str
    title: str
    compute: Callable[[dt.datetime], dict[str, Any]]


REPORT_TYPES: dict[str, ReportType] = {}


def report(name: str, title: str):
    def register(compute: Callable[[dt.datetime], dict[str, Any]]):
        REPORT_TYPES[name] = ReportType(name, title, compute)
        return compute
    return register


class ReportsBusy(RuntimeError):
    """Another process is generating reports right now."""


# ---------------------------------------------------------------- helpers
def money(amount: Decimal) -> float:
    """A sum as a JSON number with cents (float is exact enough for charts; snapshots are not ledgers)."""
    return float(amount.quantize(Decimal("0.01")))


def grouped_counts(*columns, where=None) -> dict[tuple, int]:
    stmt = select(*columns, func.count()).group_by(*columns)
    if where is not None:
        stmt = stmt.where(where)
    return {tuple(row[:-1]): row[-1] for row in db.session.execute(stmt)}


def summed_amounts(model: type, amount: str, keys: Iterable[str], where=None) -> dict[tuple, Decimal]:
    """Sum of a decrypted amount per key, streaming (id, ciphertext, keys) rows in batches.

    Rows are read as plain columns, not ORM entities, and the ciphertext as raw
    bytes: at millions of rows building an object per row costs several times the
    decryption. Values are opened with the key ring and associated data
    (table, column, id) that the ORM's load event uses.
    """
    keys = list(keys)
    mapper = inspect(model)
    pk = primary_key_of(mapper)
    column = next(c for attr, c, _band in encrypted_columns(mapper) if attr == amount)
    table = mapper.local_table.name
    stmt = select(getattr(model, pk), type_coerce(getattr(model, amount), LargeBinary()),
                  *(getattr(model, k) for k in keys))
    stmt = stmt.where(getattr(model, f"{amount}_band").is_not(None))  # band is set exactly when the amount is
    if where is not None:
        stmt = stmt.where(where)
    totals: dict[tuple, Decimal] = defaultdict(Decimal)
    # a server-side cursor in the session's transaction; the options go on the statement, not the connection
    stmt = stmt.execution_options(stream_results=True, max_row_buffer=BATCH)
    for partition in db.session.connection().execute(stmt).partitions(BATCH):
        decrypt = key_ring().decrypt  # once per batch: notices a key rotation between batches
        for row_id, sealed, *key in partition:
            totals[tuple(key)] += decrypt(sealed, table, column, row_id)
    return totals


def top_with_other(items: list[dict], size_key: str, sum_keys: tuple[str, ...], label_key: str,
                   limit: int = TOP) -> list[dict]:
    """The `limit` largest items, and one {label: None, other: True} item summing the rest."""
    items = sorted(items, key=lambda i: (-i[size_key], str(i[label_key])))
    head, rest = items[:limit], items[limit:]
    if rest:
        other = {label_key: None, "other": True, "groups": len(rest)}
        for key in sum_keys:
            other[key] = sum(i[key] for i in rest)
            if isinstance(other[key], float):
                other[key] = round(other[key], 2)
        head.append(other)
    return head


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


# ---------------------------------------------------------------- the reports
@report("pipeline_by_stage", N_("Pipeline by stage"))
def pipeline_by_stage(now: dt.datetime) -> dict[str, Any]:
    counts = grouped_counts(Opportunity.stage)
    values = summed_amounts(Opportunity, "value", ["stage"])
    stages = [{"stage": s, "count": counts.get((s,), 0), "value": money(values.get((s,), Decimal(0)))}
              for s in OPPORTUNITY_STAGES]
    open_stages = [s for s in stages if s["stage"] not in ("won", "lost")]
    return {"stages": stages, "open_count": sum(s["count"] for s in open_stages),
            "open_value": round(sum(s["value"] for s in open_stages), 2)}


@report("won_lost_by_month", N_("Won and lost per month"))
def won_lost_by_month(now: dt.datetime) -> dict[str, Any]:
    since = month_start(now.date(), MONTHS - 1)
    closed = Opportunity.stage.in_(("won", "lost")) & (Opportunity.close_date >= since)
    month = func.to_char(func.date_trunc("month", Opportunity.close_date), "YYYY-MM")
    counts = grouped_counts(month, Opportunity.stage, where=closed)
    won_values = summed_amounts(Opportunity, "value", ["close_date"],
                                where=(Opportunity.stage == "won") & (Opportunity.close_date >= since))
    won_by_month: dict[str, Decimal] = defaultdict(Decimal)
    for (day,), amount in won_values.items():
        won_by_month[f"{day:%Y-%m}"] += amount
    months = []
    for back in range(MONTHS - 1, -1, -1):
        key = f"{month_start(now.date(), back):%Y-%m}"
        won, lost = counts.get((key, "won"), 0), counts.get((key, "lost"), 0)
        months.append({"month": key, "won": won, "lost": lost,
                       "won_value": money(won_by_month.get(key, Decimal(0))), "win_rate": rate(won, won + lost)})
    won = sum(m["won"] for m in months)
    lost = sum(m["lost"] for m in months)
    return {"since": since.isoformat(), "months": months, "won": won, "lost": lost,
            "win_rate": rate(won, won + lost)}


@report("revenue_by_industry", N_("Customer revenue by industry"))
def revenue_by_industry(now: dt.datetime) -> dict[str, Any]:
    counts = grouped_counts(Customer.industry)
    revenue = summed_amounts(Customer, "revenue", ["industry"])
    items = [{"industry": industry, "customers": n, "revenue": money(revenue.get((industry,), Decimal(0)))}
             for (industry,), n in counts.items()]
    return {"industries": top_with_other(items, "revenue", ("customers", "revenue"), "industry"),
            "customers": sum(counts.values()), "revenue": money(sum(revenue.values(), Decimal(0)))}


@report("customers_by_location", N_("Customers by location"))
def customers_by_location(now: dt.datetime) -> dict[str, Any]:
    counts = grouped_counts(Customer.location)
    items = [{"location": location, "customers": n} for (location,), n in counts.items()]
    return {"locations": top_with_other(items, "customers", ("customers",), "location"),
            "customers": sum(counts.values())}


@report("lead_funnel", N_("Lead funnel"))
def lead_funnel(now: dt.datetime) -> dict[str, Any]:
    counts = grouped_counts(Lead.source, Lead.status)
    by_status = {s: 0 for s in LEAD_STATUSES}
    sources: dict[str | None, dict[str, int]] = defaultdict(lambda: {"leads": 0, "converted": 0})
    for (source, status), n in counts.items():
        by_status[status] = by_status.get(status, 0) + n
        sources[source]["leads"] += n
        if status == CONVERTED:
            sources[source]["converted"] += n
    items = [{"source": s, **v} for s, v in sources.items()]
    by_source = top_with_other(items, "leads", ("leads", "converted"), "source")
    for item in by_source:
        item["conversion_rate"] = rate(item["converted"], item["leads"])
    total = sum(by_status.values())
    return {"by_status": [{"status": s, "count": n} for s, n in by_status.items()],
            "by_source": by_source, "total": total, "converted": by_status.get(CONVERTED, 0),
            "conversion_rate": rate(by_status.get(CONVERTED, 0), total)}


@report("activities_by_week", N_("Activities by type per week"))
def activities_by_week(now: dt.datetime) -> dict[str, Any]:
    this_week = now.date() - dt.timedelta(days=now.weekday())  # Monday, as date_trunc('week')
    since = this_week - dt.timedelta(weeks=WEEKS - 1)
    week = func.date_trunc("week", Activity.activity_date)
    counts = grouped_counts(week, Activity.type, where=Activity.activity_date >= since)
    weeks = [since + dt.timedelta(weeks=i) for i in range(WEEKS)]
    series = [{"type": t, "counts": [counts.get((dt.datetime.combine(w, dt.time()), t), 0) for w in weeks]}
              for t in ACTIVITY_TYPES]
    return {"weeks": [w.isoformat() for w in weeks], "series": series,
            "total": sum(sum(s["counts"]) for s in series)}


@report("open_tickets", N_("Open tickets by status and priority"))
def open_tickets(now: dt.datetime) -> dict[str, Any]:
    counts = grouped_counts(ServiceTicket.status, ServiceTicket.priority,
                            where=ServiceTicket.status.in_(OPEN_TICKET_STATUSES))
    cells = [{"status": s, "priority": p, "count": counts.get((s, p), 0)}
             for s in OPEN_TICKET_STATUSES for p in PRIORITIES]
    return {"statuses": list(OPEN_TICKET_STATUSES), "priorities": list(PRIORITIES), "cells": cells,
            "total": sum(c["count"] for c in cells)}


@report("ticket_age", N_("Open ticket age"))
def ticket_age(now: dt.datetime) -> dict[str, Any]:
    age_days = func.extract("epoch", bindparam("now", now, DateTime) - ServiceTicket.created_at) / 86400
    # width_bucket: 0 below the first threshold, i between thresholds i-1 and i: the AGE_BUCKETS index
    thresholds = bindparam("thresholds", [lower for _label, lower, _upper in AGE_BUCKETS[1:]], ARRAY(Numeric))
    bucket = func.width_bucket(age_days, thresholds)
    rows = db.session.execute(
        select(bucket, func.count()).where(ServiceTicket.status.in_(OPEN_TICKET_STATUSES)).group_by(bucket)).all()
    counts = dict(rows)
    buckets = [{"bucket": label, "from_days": lower, "to_days": upper, "count": counts.get(i, 0)}
               for i, (label, lower, upper) in enumerate(AGE_BUCKETS)]
    return {"buckets": buckets, "total": sum(b["count"] for b in buckets)}


# ---------------------------------------------------------------- snapshots
@lru_cache(maxsize=None)
def schema(report_type: str) -> dict:
    return json.loads((SCHEMAS / f"{report_type}.json").read_text())


def validate(report_type: str, data: dict) -> None:
    """Raise jsonschema.ValidationError when `data` does not have the documented shape."""
    jsonschema.validate(data, schema(report_type))


def generate_one(report_type: str, now: dt.datetime | None = None) -> Report:
    """Compute one report and write its snapshot (committed)."""
    kind = REPORT_TYPES[report_type]
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    started = time.perf_counter()
    data = {"title": kind.title, **kind.compute(now)}
    data["duration_ms"] = round((time.perf_counter() - started) * 1000)
    validate(report_type, data)
    row = Report(report_type=report_type, data=data, generated_at=now)
    db.session.add(row)
    db.session.commit()
    return row


def generate(report_types: Iterable[str] | None = None, echo: Callable[[str], None] | None = None) -> list[Report]:
    """Generate the given report types (all by default), one at a time; refuse when another run is going."""
    names = list(report_types or REPORT_TYPES)
    unknown = [n for n in names if n not in REPORT_TYPES]
    if unknown:
        raise KeyError(f"unknown report type(s): {', '.join(unknown)}")
    # a session-level lock on its own connection: held across the generators' commits
    with db.engine.connect() as lock:
        if not lock.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}):
            raise ReportsBusy("reports are being generated by another process; try again when it has finished")
        try:
            rows = []
            for name in names:
                row = generate_one(name)
                rows.append(row)
                if echo:
                    echo(f"{name}: {row.data['duration_ms']} ms")
            return rows
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
