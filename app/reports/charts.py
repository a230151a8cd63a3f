"""Plotly-style figure specs (plain dicts): the helpers the dashboard's charts share (dashboard_charts.py),
and each report's trend metrics over its stored snapshots (the history pages).

Every clickable point carries its list-screen URL in `customdata`; app/reports/svg_charts.py
draws each figure as inline SVG, each point a link to that URL.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from flask_babel import gettext as _

from app.i18n.labels import choice_label
from app.reports.snapshots import Snapshot

log = logging.getLogger(__name__)

OPPORTUNITIES, CUSTOMERS, LEADS, ACTIVITIES, TICKETS = (
    "/opportunities", "/customers", "/leads", "/activities", "/tickets")
PRIORITY_COLORS = {"low": "#9ecae1", "medium": "#4292c6", "high": "#fd8d3c", "urgent": "#d62728"}

Figure = dict[str, Any]
TRENDS: dict[str, Callable[[dict], dict[str, float | None]]] = {}


def trend(report_type: str) -> Callable[[Callable], Callable]:
    """@trend("type"): the report's metrics (data -> {metric: number}) its history page draws."""
    def register(function: Callable) -> Callable:
        TRENDS[report_type] = function
        return function
    return register


def figure(traces: list[dict], title: str = "", **layout: Any) -> Figure:
    return {"data": traces, "layout": {"title": {"text": title}, "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
                                       "height": 340, "hovermode": "closest", **layout}}


def category(item: dict, key: str) -> str:
    if item.get("other"):
        return _("(other) %(count)s more", count=item["groups"])
    return _("(not set)") if item[key] is None else str(item[key])


def value_label(value: str) -> str:
    """A documented value (stage, status, ...) as the user's language writes it."""
    return str(choice_label(value))


def day_before(day: dt.date) -> str:
    return (day - dt.timedelta(days=1)).isoformat()


def before_midnight(day: dt.date) -> str:
    """Upper-exclusive bound's complement: FAB has only > and <, so '> previous day 23:59:59.999999'."""
    return f"{day - dt.timedelta(days=1)} 23:59:59.999999"


# ---------------------------------------------------------------- trend metrics of each report (history pages)
@trend("pipeline_by_stage")
def pipeline_trend(data: dict) -> dict:
    return {_("open pipeline value"): data["open_value"], _("open opportunities"): data["open_count"]}


@trend("won_lost_by_month")
def won_lost_trend(data: dict) -> dict:
    return {_("win rate (24 months)"): data["win_rate"], _("won (24 months)"): data["won"]}


@trend("revenue_by_industry")
def industry_trend(data: dict) -> dict:
    return {_("customer revenue"): data["revenue"], _("customers"): data["customers"]}


@trend("customers_by_location")
def location_trend(data: dict) -> dict:
    return {_("customers"): data["customers"]}


@trend("lead_funnel")
def lead_trend(data: dict) -> dict:
    return {_("conversion rate"): data["conversion_rate"], _("leads"): data["total"]}


@trend("activities_by_week")
def activity_trend(data: dict) -> dict:
    last_full_week = sum(s["counts"][-2] for s in data["series"])
    return {_("activities (26 weeks)"): data["total"], _("activities in the last full week"): last_full_week}


@trend("open_tickets")
def ticket_trend(data: dict) -> dict:
    urgent = sum(c["count"] for c in data["cells"] if c["priority"] == "urgent")
    return {_("open tickets"): data["total"], _("urgent open tickets"): urgent}


@trend("ticket_age")
def age_trend(data: dict) -> dict:
    month_or_older = sum(b["count"] for b in data["buckets"] if b["from_days"] >= 28)
    return {_("open tickets"): data["total"], _("open for 4 weeks or more"): month_or_older}


@dataclass
class Card:
    """One chart of the dashboard: its name (the report type it replaces), title and figures."""

    type: str
    title: str
    figures: list[Figure] = field(default_factory=list)


def trend_figures(report_type: str, snapshots: list[Snapshot]) -> tuple[list[Figure], list[tuple[Snapshot, str]]]:
    """One line per metric of the report over its snapshots (oldest first); and the snapshots skipped, with why."""
    metrics = TRENDS[report_type]
    rows, skipped = [], []
    for snapshot in snapshots:
        if snapshot.problem:
            skipped.append((snapshot, snapshot.problem))
            continue
        try:
            rows.append((snapshot.generated_at.isoformat(sep=" ", timespec="seconds"), metrics(snapshot.data)))
        except Exception as exc:  # noqa: BLE001 - as in stored_figures
            log.exception("report snapshot %s has no trend metrics", snapshot.report_id)
            skipped.append((snapshot, _("The snapshot cannot be drawn (%(error)s).", error=type(exc).__name__)))
    names = list(rows[0][1]) if rows else []
    return [figure([{"type": "scatter", "mode": "lines+markers", "name": name, "x": [at for at, _values in rows],
                     "y": [values.get(name) for _at, values in rows]}], name, xaxis={"type": "date"})
            for name in names], skipped
