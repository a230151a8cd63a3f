"""One generator per report type; each builds its numbers from shared table scans and writes one snapshot row.

The scans (app/reports/scans.py) group counts in SQL and stream the encrypted
amounts (customers.revenue, opportunities.value) once per table, decrypting and
summing them in Python in integer cents: SQL never sums, averages or sorts
money. A run starts every scan its reports need at once, two at a time on their
own connections over one snapshot of the data; each report is written as soon
as its scans are done.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from flask import current_app
from sqlalchemy import text

from app.models.choices import ACTIVITY_TYPES, LEAD_STATUSES, OPPORTUNITY_STAGES, PRIORITIES
from app.encryption.columns import key_ring
from app.extensions import db
from app.i18n.labels import N_
from app.ops.database import owner_engine
from app.models import Report
from app.reports.facts import METRICS, progress, rebuild
from app.reports.shapes import check
from app.reports.scans import (AGE_BUCKETS, MONTHS, OPEN_TICKET_STATUSES, SCANS, WEEKS, WORKERS, Run, Scan,
                               activity_counts, customer_counts, customer_revenue, lead_counts, month_start,
                               covered, opportunity_counts, opportunity_values, ticket_counts, won_values)

__all__ = ["OPEN_TICKET_STATUSES", "REPORT_TYPES", "ReportsBusy", "ReportsFailed", "generate"]

log = logging.getLogger(__name__)
TOP = 20  # categories shown by name; the rest are summed into "other"
CONVERTED = "converted"
CLOSED_STAGES = ("won", "lost")
# one advisory-lock key for "reports are being generated" (cron and the button may overlap)
LOCK_KEY = 0x5245504F  # "REPO"


@dataclass(frozen=True)
class ReportType:
    name: str
    title: str
    scans: tuple[Scan, ...]
    build: Callable[[Run], dict[str, Any]]


REPORT_TYPES: dict[str, ReportType] = {}


def report(name: str, title: str, *scans: Scan):
    def register(build: Callable[[Run], dict[str, Any]]):
        REPORT_TYPES[name] = ReportType(name, title, scans, build)
        return build
    return register


class ReportsBusy(RuntimeError):
    """Another process is generating reports right now."""


class ReportsFailed(RuntimeError):
    """Some reports could not be computed (the others were written)."""


# ---------------------------------------------------------------- helpers
def money(cents: int) -> float:
    """A sum of cents as a JSON number (float is exact enough for charts; snapshots are not ledgers)."""
    return cents / 100  # correctly rounded: the same float as the decimal amount's


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


def by_first(totals: dict[tuple, int]) -> dict[Any, int]:
    """Totals per first key element, summing over the rest."""
    summed: dict[Any, int] = {}
    for key, n in totals.items():
        summed[key[0]] = summed.get(key[0], 0) + n
    return summed


# ---------------------------------------------------------------- the reports
@report("pipeline_by_stage", N_("Pipeline by stage"), opportunity_counts, opportunity_values)
def pipeline_by_stage(run: Run) -> dict[str, Any]:
    counts, values = by_first(run.result(opportunity_counts)), by_first(run.result(opportunity_values))
    stages = [{"stage": s, "count": counts.get(s, 0), "value": money(values.get(s, 0))} for s in OPPORTUNITY_STAGES]
    open_stages = [s for s in OPPORTUNITY_STAGES if s not in CLOSED_STAGES]
    return {"stages": stages, "open_count": sum(counts.get(s, 0) for s in open_stages),
            "open_value": money(sum(values.get(s, 0) for s in open_stages))}


@report("won_lost_by_month", N_("Won and lost per month"), opportunity_counts, won_values)
def won_lost_by_month(run: Run) -> dict[str, Any]:
    counts, values = run.result(opportunity_counts), run.result(won_values)
    months = []
    for back in range(MONTHS - 1, -1, -1):
        key = f"{month_start(run.now.date(), back):%Y-%m}"
        won, lost = counts.get(("won", key), 0), counts.get(("lost", key), 0)
        months.append({"month": key, "won": won, "lost": lost, "won_value": money(values.get(("won", key), 0)),
                       "win_rate": rate(won, won + lost)})
    won = sum(m["won"] for m in months)
    lost = sum(m["lost"] for m in months)
    return {"since": run.since_month.isoformat(), "months": months, "won": won, "lost": lost,
            "win_rate": rate(won, won + lost)}


@report("revenue_by_industry", N_("Customer revenue by industry"), customer_counts, customer_revenue)
def revenue_by_industry(run: Run) -> dict[str, Any]:
    counts, revenue = run.result(customer_counts)["industry"], run.result(customer_revenue)
    items = [{"industry": industry, "customers": n, "revenue": money(revenue.get(industry, 0))}
             for industry, n in counts.items()]
    return {"industries": top_with_other(items, "revenue", ("customers", "revenue"), "industry"),
            "customers": sum(counts.values()), "revenue": money(sum(revenue.values()))}


@report("customers_by_location", N_("Customers by location"), customer_counts)
def customers_by_location(run: Run) -> dict[str, Any]:
    counts = run.result(customer_counts)["location"]
    items = [{"location": location, "customers": n} for location, n in counts.items()]
    return {"locations": top_with_other(items, "customers", ("customers",), "location"),
            "customers": sum(counts.values())}


@report("lead_funnel", N_("Lead funnel"), lead_counts)
def lead_funnel(run: Run) -> dict[str, Any]:
    by_status = {s: 0 for s in LEAD_STATUSES}
    sources: dict[str | None, dict[str, int]] = {}
    for (source, status), n in run.result(lead_counts).items():
        by_status[status] = by_status.get(status, 0) + n
        item = sources.setdefault(source, {"leads": 0, "converted": 0})
        item["leads"] += n
        if status == CONVERTED:
            item["converted"] += n
    by_source = top_with_other([{"source": s, **v} for s, v in sources.items()], "leads", ("leads", "converted"),
                               "source")
    for item in by_source:
        item["conversion_rate"] = rate(item["converted"], item["leads"])
    total = sum(by_status.values())
    return {"by_status": [{"status": s, "count": n} for s, n in by_status.items()],
            "by_source": by_source, "total": total, "converted": by_status.get(CONVERTED, 0),
            "conversion_rate": rate(by_status.get(CONVERTED, 0), total)}


@report("activities_by_week", N_("Activities by type per week"), activity_counts)
def activities_by_week(run: Run) -> dict[str, Any]:
    counts = run.result(activity_counts)
    weeks = [run.since_week + dt.timedelta(weeks=i) for i in range(WEEKS)]
    series = [{"type": t, "counts": [counts.get((w, t), 0) for w in weeks]} for t in ACTIVITY_TYPES]
    return {"weeks": [w.isoformat() for w in weeks], "series": series,
            "total": sum(sum(s["counts"]) for s in series)}


@report("open_tickets", N_("Open tickets by status and priority"), ticket_counts)
def open_tickets(run: Run) -> dict[str, Any]:
    counts: dict[tuple, int] = {}
    for (status, priority, _bucket), n in run.result(ticket_counts).items():
        counts[status, priority] = counts.get((status, priority), 0) + n
    cells = [{"status": s, "priority": p, "count": counts.get((s, p), 0)}
             for s in OPEN_TICKET_STATUSES for p in PRIORITIES]
    return {"statuses": list(OPEN_TICKET_STATUSES), "priorities": list(PRIORITIES), "cells": cells,
            "total": sum(c["count"] for c in cells)}


@report("ticket_age", N_("Open ticket age"), ticket_counts)
def ticket_age(run: Run) -> dict[str, Any]:
    counts: dict[int, int] = {}
    for (_status, _priority, bucket), n in run.result(ticket_counts).items():
        counts[bucket] = counts.get(bucket, 0) + n
    buckets = [{"bucket": label, "from_days": lower, "to_days": upper, "count": counts.get(i, 0)}
               for i, (label, lower, upper) in enumerate(AGE_BUCKETS)]
    return {"buckets": buckets, "total": sum(b["count"] for b in buckets)}


# ---------------------------------------------------------------- snapshots
def _write(run: Run, kind: ReportType) -> Report:
    """Build one report from its (finished) scans and write its snapshot (committed)."""
    started = time.perf_counter()
    data = {"title": kind.title, **kind.build(run)}
    # time spent on this report's numbers: its scans in full (also when shared), and its assembly
    seconds = sum(run.seconds[s.name if s.name in run.seconds else s.within.name] for s in kind.scans)
    seconds += time.perf_counter() - started
    data["duration_ms"] = round(seconds * 1000)
    check(kind.name, data, run.now)  # the ORM checks again before the INSERT, for every writer
    row = Report(report_type=kind.name, data=data, generated_at=run.now)
    db.session.add(row)
    db.session.commit()
    return row


def generate(report_types: Iterable[str] | None = None, echo: Callable[[str], None] | None = None,
             workers: int = WORKERS) -> list[Report]:
    """Generate the given report types (all by default) from one snapshot of the data.

    Refuses when another run is going. A report whose scan fails (say, an amount
    that does not decrypt) is skipped and the others are still written; then
    ReportsFailed names what is missing and why.
    """
    names = list(dict.fromkeys(report_types or REPORT_TYPES))
    unknown = [n for n in names if n not in REPORT_TYPES]
    if unknown:
        raise KeyError(f"unknown report type(s): {', '.join(unknown)}")
    kinds = [REPORT_TYPES[n] for n in names]
    needed = {s.name for s in covered({s for kind in kinds for s in kind.scans})}
    # a session-level lock on its own connection: held across the generators' commits
    with db.engine.connect() as lock:
        if not lock.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}):
            raise ReportsBusy("reports are being generated by another process; try again when it has finished")
        try:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            rows, failed = [], {}
            # company-wide figures: the scans read as the owner role, which row-level security does not limit
            with owner_engine(current_app.config) as engine, Run(engine, key_ring(), now, workers) as run:
                state, done = progress(engine), iter(range(1, len(kinds) + len(METRICS) + 1))
                state(started_at=now, finished_at=None, step=0, steps=len(kinds) + len(METRICS), message=None)
                run.start(s for s in SCANS.values() if s.name in needed)
                for kind in kinds:
                    state(step=next(done), message=kind.name)
                    try:
                        row = _write(run, kind)
                    except Exception as exc:  # noqa: BLE001 - one report's failure must not cost the others
                        db.session.rollback()
                        log.exception("report %s failed", kind.name)
                        failed[kind.name] = exc
                        continue
                    rows.append(row)
                    if echo:
                        echo(f"{kind.name}: {row.data['duration_ms']} ms")
                # the dashboard's per-owner figures, from a snapshot of their own (after the scans: one at a time)
                try:
                    facts = rebuild(engine, key_ring(), lambda metric: state(step=next(done), message=metric))
                    state(built_at=now)
                except Exception as exc:  # noqa: BLE001 - the snapshots stand; the old facts stay
                    log.exception("dashboard facts failed")
                    failed["dashboard facts"], facts = exc, 0
                state(finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None), message=None)
            if echo:
                echo("scans: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run.seconds.items()))
                echo(f"dashboard facts: {facts} rows")
            if failed:
                raise ReportsFailed("; ".join(f"{name} not generated: {exc}" for name, exc in failed.items()))
            return rows
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
