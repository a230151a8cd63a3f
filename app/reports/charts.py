"""Plotly-style figure specs (plain dicts) from report snapshots, with drill-down links and trend metrics.

Every clickable point carries its list-screen URL in `customdata`; app/reports/svg_charts.py
draws each figure as inline SVG, each point a link to that URL.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from flask_babel import get_locale
from flask_babel import gettext as _

from app.i18n.labels import choice_label
from app.reports.drill import EQ, GT, IN, LT, list_url
from app.reports.generators import OPEN_TICKET_STATUSES, ReportType
from app.reports.snapshots import Snapshot, history

log = logging.getLogger(__name__)

OPPORTUNITIES, CUSTOMERS, LEADS, ACTIVITIES, TICKETS = (
    "/opportunities", "/customers", "/leads", "/activities", "/tickets")
PRIORITY_COLORS = {"low": "#9ecae1", "medium": "#4292c6", "high": "#fd8d3c", "urgent": "#d62728"}

Figure = dict[str, Any]
CHARTS: dict[str, Callable[[dict, dt.datetime], list[Figure]]] = {}
TRENDS: dict[str, Callable[[dict], dict[str, float | None]]] = {}


def _registrar(table: dict[str, Callable]) -> Callable[[str], Callable]:
    def for_type(report_type: str) -> Callable:
        def register(function: Callable) -> Callable:
            table[report_type] = function
            return function
        return register
    return for_type


chart = _registrar(CHARTS)  # @chart("type"): (data, generated_at) -> figures
trend = _registrar(TRENDS)  # @trend("type"): data -> {metric: number}


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


def eq_link(route: str, column: str, item: dict) -> str | None:
    """Link for one category; none for the 'other' bucket or a missing value (FAB cannot filter on NULL)."""
    if item.get("other") or item[column] is None:
        return None
    return list_url(route, (column, EQ, item[column]))


def day_before(day: dt.date) -> str:
    return (day - dt.timedelta(days=1)).isoformat()


def before_midnight(day: dt.date) -> str:
    """Upper-exclusive bound's complement: FAB has only > and <, so '> previous day 23:59:59.999999'."""
    return f"{day - dt.timedelta(days=1)} 23:59:59.999999"


# ---------------------------------------------------------------- report charts
@chart("pipeline_by_stage")
def pipeline_chart(data: dict, at: dt.datetime) -> list[Figure]:
    stages = data["stages"]
    if all(s["value"] is None for s in stages):  # upgraded from the counts-only shape (migration 0015)
        return [figure([{
            "type": "bar", "x": [value_label(s["stage"]) for s in stages], "y": [s["count"] for s in stages],
            "customdata": [list_url(OPPORTUNITIES, ("stage", EQ, s["stage"])) for s in stages],
            "hovertemplate": _("%(x)s: %(n)s opportunities", x="%{x}", n="%{y:,}") + "<extra></extra>",
        }], yaxis={"title": {"text": _("opportunities")}})]
    return [figure([{
        "type": "bar", "x": [value_label(s["stage"]) for s in stages], "y": [s["value"] for s in stages],
        "text": [f"{s['count']:,}" for s in stages], "textposition": "auto",
        "hovertemplate": _("%(x)s: %(y)s in %(n)s opportunities", x="%{x}", y="%{y:,.2f}", n="%{text}")
        + "<extra></extra>",
        "customdata": [list_url(OPPORTUNITIES, ("stage", EQ, s["stage"])) for s in stages],
    }], yaxis={"title": {"text": _("value")}, "tickformat": "~s"})]


@trend("pipeline_by_stage")
def pipeline_trend(data: dict) -> dict:
    return {_("open pipeline value"): data["open_value"], _("open opportunities"): data["open_count"]}


@chart("won_lost_by_month")
def won_lost_chart(data: dict, at: dt.datetime) -> list[Figure]:
    months = data["months"]
    labels = [m["month"] for m in months]

    def links(stage: str) -> list[str]:
        out = []
        for m in months:
            start = dt.date.fromisoformat(m["month"] + "-01")
            end = (start + dt.timedelta(days=32)).replace(day=1)
            out.append(list_url(OPPORTUNITIES, ("stage", EQ, stage), ("close_date", GT, day_before(start)),
                                ("close_date", LT, end.isoformat())))
        return out

    bars = [{"type": "bar", "name": value_label(stage), "x": labels, "y": [m[stage] for m in months],
             "marker": {"color": color}, "customdata": links(stage),
             "hovertemplate": f"%{{x}}: %{{y}} {value_label(stage)}<extra></extra>"}
            for stage, color in (("won", "#2ca02c"), ("lost", "#d62728"))]
    rate_line = {"type": "scatter", "mode": "lines+markers", "name": _("win rate"), "x": labels,
                 "y": [m["win_rate"] for m in months], "yaxis": "y2",
                 "hovertemplate": f"%{{x}}: {_('win rate')} %{{y:.0%}}<extra></extra>"}
    return [figure(bars + [rate_line], barmode="group", legend={"orientation": "h", "y": -0.25},
                   xaxis={"type": "category"},
                   yaxis={"title": {"text": _("opportunities")}},
                   yaxis2={"overlaying": "y", "side": "right", "range": [0, 1], "tickformat": ".0%"})]


@trend("won_lost_by_month")
def won_lost_trend(data: dict) -> dict:
    return {_("win rate (24 months)"): data["win_rate"], _("won (24 months)"): data["won"]}


@chart("revenue_by_industry")
def industry_chart(data: dict, at: dt.datetime) -> list[Figure]:
    items = data["industries"]
    return [figure([{
        "type": "pie", "name": _("customer revenue"), "labels": [category(i, "industry") for i in items], "values": [i["revenue"] for i in items],
        "customdata": [eq_link(CUSTOMERS, "industry", i) for i in items], "sort": False, "hole": 0.35,
        "text": [_("%(count)s customers", count=format(i["customers"], ",")) for i in items], "textinfo": "percent",
        "hovertemplate": "%{label}: %{value:,.2f} (%{text})<extra></extra>",
    }], legend={"font": {"size": 10}})]


@trend("revenue_by_industry")
def industry_trend(data: dict) -> dict:
    return {_("customer revenue"): data["revenue"], _("customers"): data["customers"]}


@chart("customers_by_location")
def location_chart(data: dict, at: dt.datetime) -> list[Figure]:
    items = list(reversed(data["locations"]))  # largest on top
    return [figure([{
        "type": "bar", "orientation": "h", "name": _("customers"), "y": [category(i, "location") for i in items],
        "x": [i["customers"] for i in items], "customdata": [eq_link(CUSTOMERS, "location", i) for i in items],
        "hovertemplate": "%{y}: " + _("%(count)s customers", count="%{x:,}") + "<extra></extra>",
    }], margin={"l": 140, "r": 20, "t": 30, "b": 40})]


@trend("customers_by_location")
def location_trend(data: dict) -> dict:
    return {_("customers"): data["customers"]}


@chart("lead_funnel")
def lead_chart(data: dict, at: dt.datetime) -> list[Figure]:
    statuses, sources = data["by_status"], data["by_source"]
    funnel = figure([{
        "type": "funnel", "name": _("leads"), "y": [value_label(s["status"]) for s in statuses], "x": [s["count"] for s in statuses],
        "customdata": [list_url(LEADS, ("status", EQ, s["status"])) for s in statuses],
        "textinfo": "value+percent initial",
    }], _("by status"), margin={"l": 110, "r": 20, "t": 40, "b": 30})
    labels = [category(s, "source") for s in sources]
    by_source = figure([
        {"type": "bar", "name": _("leads"), "x": labels, "y": [s["leads"] for s in sources],
         "customdata": [eq_link(LEADS, "source", s) for s in sources]},
        {"type": "bar", "name": _("converted"), "x": labels, "y": [s["converted"] for s in sources],
         "customdata": [None if s.get("other") or s["source"] is None else
                        list_url(LEADS, ("source", EQ, s["source"]), ("status", EQ, "converted")) for s in sources],
         "text": [None if s["conversion_rate"] is None else f"{s['conversion_rate']:.0%}" for s in sources],
         "textposition": "outside"},
    ], _("by source (conversion rate on top)"), barmode="group", legend={"orientation": "h", "y": -0.3})
    return [funnel, by_source]


@trend("lead_funnel")
def lead_trend(data: dict) -> dict:
    return {_("conversion rate"): data["conversion_rate"], _("leads"): data["total"]}


@chart("activities_by_week")
def activity_chart(data: dict, at: dt.datetime) -> list[Figure]:
    weeks = [dt.date.fromisoformat(w) for w in data["weeks"]]
    traces = [{"type": "bar", "name": value_label(s["type"]), "x": data["weeks"], "y": s["counts"],
               "customdata": [list_url(ACTIVITIES, ("type", EQ, s["type"]),
                                       ("activity_date", GT, before_midnight(w)),
                                       ("activity_date", LT, (w + dt.timedelta(weeks=1)).isoformat()))
                              for w in weeks],
               "hovertemplate": _("week of %(week)s", week="%{x}") + f": %{{y:,}} {value_label(s['type'])}<extra></extra>"}
              for s in data["series"]]
    return [figure(traces, barmode="stack", legend={"orientation": "h", "y": -0.25},
                   xaxis={"type": "category"})]


@trend("activities_by_week")
def activity_trend(data: dict) -> dict:
    last_full_week = sum(s["counts"][-2] for s in data["series"])
    return {_("activities (26 weeks)"): data["total"], _("activities in the last full week"): last_full_week}


@chart("open_tickets")
def ticket_chart(data: dict, at: dt.datetime) -> list[Figure]:
    cells = data["cells"]
    traces = [{"type": "bar", "name": value_label(p), "x": [value_label(s) for s in data["statuses"]],
               "marker": {"color": PRIORITY_COLORS.get(p)},
               "y": [next(c["count"] for c in cells if c["status"] == s and c["priority"] == p)
                     for s in data["statuses"]],
               "customdata": [list_url(TICKETS, ("status", EQ, s), ("priority", EQ, p)) for s in data["statuses"]],
               "hovertemplate": f"%{{x}}, {value_label(p)}: %{{y:,}}<extra></extra>"}
              for p in data["priorities"]]
    return [figure(traces, barmode="stack", legend={"orientation": "h", "y": -0.2})]


@trend("open_tickets")
def ticket_trend(data: dict) -> dict:
    urgent = sum(c["count"] for c in data["cells"] if c["priority"] == "urgent")
    return {_("open tickets"): data["total"], _("urgent open tickets"): urgent}


@chart("ticket_age")
def age_chart(data: dict, at: dt.datetime) -> list[Figure]:
    """Ages are relative to the snapshot's time, so the links select the same tickets it counted."""

    def link(bucket: dict) -> str:
        conditions: list = [("status", IN, list(OPEN_TICKET_STATUSES)),
                            ("created_at", LT, f"{at - dt.timedelta(days=bucket['from_days']):%Y-%m-%d %H:%M:%S}")]
        if bucket["to_days"] is not None:
            conditions.append(("created_at", GT, f"{at - dt.timedelta(days=bucket['to_days']):%Y-%m-%d %H:%M:%S}"))
        return list_url(TICKETS, *conditions)

    buckets = data["buckets"]
    return [figure([{
        "type": "bar", "name": _("open tickets"), "x": [_(b["bucket"]) for b in buckets], "y": [b["count"] for b in buckets],
        "customdata": [link(b) for b in buckets], "marker": {"color": "#fd8d3c"},
        "hovertemplate": "%{x}: " + _("%(count)s open tickets", count="%{y:,}") + "<extra></extra>",
    }], xaxis={"type": "category"})]


@trend("ticket_age")
def age_trend(data: dict) -> dict:
    month_or_older = sum(b["count"] for b in data["buckets"] if b["from_days"] >= 28)
    return {_("open tickets"): data["total"], _("open for 4 weeks or more"): month_or_older}


def figures(report_type: str, data: dict, generated_at: dt.datetime) -> list[Figure]:
    return CHARTS[report_type](data, generated_at)


_STORED: OrderedDict[tuple, list[Figure]] = OrderedDict()
_STORED_LOCK = threading.Lock()
STORED_KEEP = 64  # figure sets kept per process: the latest of each type, with room for a history page


class Unreadable(Exception):
    """A stored snapshot that cannot be drawn; the message says why (translated)."""


def stored_figures(snapshot: Snapshot) -> list[Figure]:
    """figures() of a stored snapshot, built once per process and language (each carries ~300 list links).

    Keyed by (report_id, updated_at): a trigger sets updated_at on every UPDATE, so an
    edited snapshot is drawn afresh. Unreadable when the snapshot is not of its
    documented shape or its figures cannot be built.
    """
    if snapshot.problem:
        raise Unreadable(snapshot.problem)
    key = (snapshot.report_id, snapshot.updated_at, str(get_locale()))
    with _STORED_LOCK:
        found = _STORED.get(key)
        if found is not None:
            _STORED.move_to_end(key)
            return found
    try:
        built = figures(snapshot.report_type, snapshot.data, snapshot.generated_at)
    except Exception as exc:  # noqa: BLE001 - a stored document of the right shape but odd content
        log.exception("report snapshot %s cannot be drawn", snapshot.report_id)
        raise Unreadable(_("The snapshot cannot be drawn (%(error)s).", error=type(exc).__name__)) from exc
    with _STORED_LOCK:
        _STORED[key] = built
        while len(_STORED) > STORED_KEEP:
            _STORED.popitem(last=False)
    return built


@dataclass
class Card:
    """One report on the dashboard: the newest snapshot that can be drawn, and the newer ones skipped."""

    type: str
    title: str
    snapshot: Snapshot | None = None
    figures: list[Figure] = field(default_factory=list)
    skipped: list[tuple[Snapshot, str]] = field(default_factory=list)


def card(kind: ReportType, newest: Snapshot | None) -> Card:
    """The card of `kind`; when its newest snapshot cannot be drawn, the next older one that can."""
    result = Card(kind.name, kind.title)
    if newest is None:
        return result
    candidates = [newest]
    for snapshot in candidates:
        try:
            result.figures, result.snapshot = stored_figures(snapshot), snapshot
            return result
        except Unreadable as exc:
            result.skipped.append((snapshot, str(exc)))
        if snapshot is newest:  # read the history only when the newest one failed
            candidates += [s for s in reversed(history(kind.name)) if s.report_id != newest.report_id]
    return result


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
