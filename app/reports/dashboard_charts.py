"""The dashboard's charts for a period and owners: plotly-style figure dicts (the same shape as charts.py's).

Honest by construction: the lead funnel is the period's cohort of new leads, each stage
counting the leads that reached at least that stage, so a stage never exceeds the one
before; donuts show at most six named slices and "other"; time axes run from the first to
the last bucket with data, labelled with full dates (a week by its Monday, YYYY-MM-DD).
Every bar and slice links to the list it counts, with the period and owner as filter chips.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from flask_babel import gettext as _

from app.i18n.labels import choice_label
from app.lists.links import EQ, GT, IN, LT, list_url
from app.models.choices import ACTIVITY_TYPES, LEAD_STATUSES, PRIORITIES
from app.reports.charts import (ACTIVITIES, CUSTOMERS, LEADS, OPPORTUNITIES, PRIORITY_COLORS, TICKETS, Figure,
                                before_midnight, category, day_before, figure, value_label)
from app.reports.dashboard_data import OPEN_STAGES, OPEN_TICKETS, WEEKLY_UP_TO, Figures, Reader, money
from app.reports.dashboard_filters import Filters
from app.reports.scans import AGE_BUCKETS
from app.security.my_records import follower_args, owner_args

DONUT_SLICES = 6  # named slices; the rest is one "other" slice
FUNNEL = ("new", "following up", "qualified", "converted")  # the order a lead moves in ("lost" leaves it)
DATE_COLUMNS = {OPPORTUNITIES: ("close_date", False), LEADS: ("created_at", True), TICKETS: ("created_at", True),
                CUSTOMERS: ("created_at", True), ACTIVITIES: ("activity_date", True)}


@dataclass
class Drill:
    """List links for one view of the dashboard: the period on the list's date column, the owner or team."""

    filters: Filters

    def span(self, route: str, start: dt.date, end: dt.date) -> list[tuple]:
        column, timestamp = DATE_COLUMNS[route]
        low = before_midnight(start) if timestamp else day_before(start)
        return [(column, GT, low), (column, LT, (end + dt.timedelta(days=1)).isoformat())]

    def url(self, route: str, *conditions: tuple, start: dt.date | None = None, end: dt.date | None = None) -> str:
        """The list of `route` under `conditions`, within [start, end] (default: the period), of the owner/team."""
        span = self.span(route, start or self.filters.start, end or self.filters.end)
        found = list_url(route, *conditions, *span)
        if self.filters.owner is not None or self.filters.team is not None:
            # activities have no owner of their own: they follow their customer's
            names = follower_args(route) if route == ACTIVITIES else owner_args(route)
            which = ("own", self.filters.owner) if self.filters.owner is not None else ("team", self.filters.team)
            found += "&" + urlencode({names[which[0]]: which[1]})
        return found


def buckets(found: dict[tuple[dt.date, str], int], unit: str) -> list[dt.date]:
    """The axis: every week or month from the first bucket with data to the last (none when empty)."""
    used = sorted({bucket for (bucket, _k), n in found.items() if n})
    if not used:
        return []
    axis, step = [used[0]], used[0]
    while step < used[-1]:
        step = step + dt.timedelta(weeks=1) if unit == "week" else (step + dt.timedelta(days=32)).replace(day=1)
        axis.append(step)
    return axis


def bucket_end(start: dt.date, unit: str, filters: Filters) -> dt.date:
    end = start + dt.timedelta(days=6) if unit == "week" else (start + dt.timedelta(days=32)).replace(day=1) \
        - dt.timedelta(days=1)
    return min(end, filters.end)


def label(day: dt.date, unit: str) -> str:
    return day.isoformat() if unit == "week" else f"{day:%Y-%m}"


def unit_of(filters: Filters) -> str:
    return "week" if filters.days <= WEEKLY_UP_TO else "month"


def pipeline(now: Figures, drill: Drill) -> list[Figure]:
    stages = [s for s in OPEN_STAGES + ("won", "lost")]
    return [figure([{
        "type": "bar", "name": _("value"), "x": [value_label(s) for s in stages],
        "y": [money(now.stage_cents.get(s, 0)) for s in stages],
        "text": [f"{now.stages.get(s, (0, 0))[0]:,}" for s in stages], "textposition": "auto",
        "hovertemplate": _("%(x)s: %(y)s in %(n)s opportunities", x="%{x}", y="%{y:,.2f}", n="%{text}")
        + "<extra></extra>",
        "customdata": [drill.url(OPPORTUNITIES, ("stage", EQ, s)) for s in stages],
    }], _("by close date in the period"), yaxis={"title": {"text": _("value")}, "tickformat": "~s"},
        xaxis={"title": {"text": _("stage")}})]


def won_lost(reader: Reader, drill: Drill) -> list[Figure]:
    unit = unit_of(drill.filters)
    found = {k: n for k, n in reader.series("opportunities", unit).items() if k[1] in ("won", "lost")}
    axis = buckets(found, unit)
    labels = [label(b, unit) for b in axis]
    bars = [{"type": "bar", "name": value_label(stage), "x": labels, "y": [found.get((b, stage), 0) for b in axis],
             "marker": {"color": color},
             "customdata": [drill.url(OPPORTUNITIES, ("stage", EQ, stage), start=max(b, drill.filters.start),
                                      end=bucket_end(b, unit, drill.filters)) for b in axis],
             "hovertemplate": f"%{{x}}: %{{y}} {value_label(stage)}<extra></extra>"}
            for stage, color in (("won", "#2ca02c"), ("lost", "#d62728"))]
    rates = []
    for b in axis:
        won, lost = found.get((b, "won"), 0), found.get((b, "lost"), 0)
        rates.append(round(won / (won + lost), 4) if won + lost else None)
    line = {"type": "scatter", "mode": "lines+markers", "name": _("win rate"), "x": labels, "y": rates,
            "yaxis": "y2", "hovertemplate": f"%{{x}}: {_('win rate')} %{{y:.0%}}<extra></extra>"}
    title = _("per week (from Monday)") if unit == "week" else _("per month")
    return [figure(bars + [line], title, barmode="group", legend={"orientation": "h", "y": -0.25},
                   xaxis={"type": "category", "title": {"text": _("week") if unit == "week" else _("month")},
                          "automargin": True},
                   yaxis={"title": {"text": _("opportunities")}},
                   yaxis2={"overlaying": "y", "side": "right", "range": [0, 1], "tickformat": ".0%"})]


def industries(reader: Reader, drill: Drill) -> list[Figure]:
    counts = {k1: n for (k1, _k2), (n, _d) in reader.counts("customers").items()}
    cents = reader.cents("customers")
    items = sorted(({"industry": k or None, "customers": n, "revenue": money(cents.get(k, 0))}
                    for k, n in counts.items()), key=lambda i: (-i["revenue"], -i["customers"], str(i["industry"])))
    head, rest = items[:DONUT_SLICES], items[DONUT_SLICES:]
    if rest:
        head.append({"industry": None, "other": True, "groups": len(rest), "customers": sum(i["customers"] for i in rest),
                     "revenue": round(sum(i["revenue"] for i in rest), 2)})
    labels = [str(choice_label(i["industry"])) if i["industry"] and not i.get("other") else category(i, "industry")
              for i in head]
    links = [None if i.get("other") or i["industry"] is None else drill.url(CUSTOMERS, ("industry", EQ, i["industry"]))
             for i in head]
    return [figure([{
        "type": "pie", "name": _("customer revenue"), "labels": labels, "values": [i["revenue"] for i in head],
        "customdata": links, "sort": False, "hole": 0.35, "textinfo": "percent",
        "text": [_("%(count)s customers", count=format(i["customers"], ",")) for i in head],
        "hovertemplate": "%{label}: %{value:,.2f} (%{text})<extra></extra>",
    }], _("new customers in the period, by revenue"), legend={"font": {"size": 11}})]


def funnel(now: Figures, drill: Drill) -> list[Figure]:
    """The period's new leads: how many reached each stage, and each stage's share of the one before."""
    reached = [sum(now.leads.get(s, 0) for s in FUNNEL[i:]) for i in range(len(FUNNEL))]
    reached[0] = sum(now.leads.get(s, 0) for s in LEAD_STATUSES)  # every new lead, the lost ones included
    shares = [None] + [round(reached[i] / reached[i - 1], 4) if reached[i - 1] else None for i in range(1, len(FUNNEL))]
    return [figure([{
        "type": "funnel", "name": _("leads"), "y": [value_label(s) for s in FUNNEL], "x": reached,
        "text": ["" if s is None else _("%(share)s of the stage before", share=f"{s:.0%}") for s in shares],
        "textinfo": "value+text",
        "customdata": [drill.url(LEADS, ("status", IN, list(FUNNEL[i:]) if i else list(LEAD_STATUSES)))
                       for i in range(len(FUNNEL))],
    }], _("leads created in the period that reached each stage"), margin={"l": 110, "r": 20, "t": 40, "b": 30})]


def activities(reader: Reader, drill: Drill) -> list[Figure]:
    unit = unit_of(drill.filters)
    found = reader.series("activities", unit)
    axis = buckets(found, unit)
    labels = [label(b, unit) for b in axis]
    traces = [{"type": "bar", "name": value_label(t), "x": labels, "y": [found.get((b, t), 0) for b in axis],
               "customdata": [drill.url(ACTIVITIES, ("type", EQ, t), start=max(b, drill.filters.start),
                                        end=bucket_end(b, unit, drill.filters)) for b in axis],
               "hovertemplate": f"%{{x}}: %{{y:,}} {value_label(t)}<extra></extra>"} for t in ACTIVITY_TYPES]
    title = _("per week (from Monday)") if unit == "week" else _("per month")
    return [figure(traces, title, barmode="stack", legend={"orientation": "h", "y": -0.25},
                   xaxis={"type": "category", "title": {"text": _("week") if unit == "week" else _("month")},
                          "automargin": True}, yaxis={"title": {"text": _("activities")}})]


def tickets(now: Figures, drill: Drill) -> list[Figure]:
    cells: dict[tuple[str, str], int] = {}
    for (_day, status, priority), n in now.open_tickets.items():
        cells[status, priority] = cells.get((status, priority), 0) + n
    traces = [{"type": "bar", "name": value_label(p), "x": [value_label(s) for s in OPEN_TICKETS],
               "marker": {"color": PRIORITY_COLORS.get(p)}, "y": [cells.get((s, p), 0) for s in OPEN_TICKETS],
               "customdata": [drill.url(TICKETS, ("status", EQ, s), ("priority", EQ, p)) for s in OPEN_TICKETS],
               "hovertemplate": f"%{{x}}, {value_label(p)}: %{{y:,}}<extra></extra>"} for p in PRIORITIES]
    return [figure(traces, _("opened in the period, still open"), barmode="stack",
                   legend={"orientation": "h", "y": -0.2}, yaxis={"title": {"text": _("open tickets")}})]


def ticket_age(now: Figures, drill: Drill, today: dt.date) -> list[Figure]:
    """Open tickets by whole days since they were opened (the facts keep days, not hours)."""
    counts = [0] * len(AGE_BUCKETS)
    for (day, _status, _priority), n in now.open_tickets.items():
        age = (today - day).days
        counts[next(i for i, (_l, low, high) in enumerate(AGE_BUCKETS) if high is None or age < high)] += n
    links = []
    for _label, low, high in AGE_BUCKETS:
        newest = today - dt.timedelta(days=low)
        oldest = drill.filters.start if high is None else max(drill.filters.start, today - dt.timedelta(days=high - 1))
        links.append(drill.url(TICKETS, ("status", IN, list(OPEN_TICKETS)), start=oldest,
                               end=min(newest, drill.filters.end)) if oldest <= min(newest, drill.filters.end) else None)
    return [figure([{
        "type": "bar", "name": _("open tickets"), "x": [_(b[0]) for b in AGE_BUCKETS], "y": counts,
        "customdata": links, "marker": {"color": "#fd8d3c"},
        "hovertemplate": "%{x}: " + _("%(count)s open tickets", count="%{y:,}") + "<extra></extra>",
    }], _("opened in the period, still open; age in whole days"), xaxis={"type": "category"},
        yaxis={"title": {"text": _("open tickets")}})]


def all_charts(now: Figures, reader: Reader, drill: Drill, today: dt.date) -> dict[str, list[Figure]]:
    """{chart name: figures}, in the dashboard's order (the names of the report types they replace)."""
    return {"pipeline_by_stage": pipeline(now, drill), "won_lost_by_month": won_lost(reader, drill),
            "revenue_by_industry": industries(reader, drill), "lead_funnel": funnel(now, drill),
            "activities_by_week": activities(reader, drill), "open_tickets": tickets(now, drill),
            "ticket_age": ticket_age(now, drill, today)}

