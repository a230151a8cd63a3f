"""What the dashboard page shows for one set of filters: KPI cards with their change, the charts, the facts' age.

Every figure counts records dated in the period: opportunities by close date, leads,
customers and tickets by the day they were created, activities by their date; "open"
means open now. The previous period is read the same way, for the cards' change.
"""
from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from flask_babel import format_decimal, format_percent, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.models.choices import PRIORITIES, PRIORITY_WINDOW_DAYS
from app.models.dashboard import DashboardRefresh
from app.reports.charts import Figure, LEADS, OPPORTUNITIES, TICKETS, value_label
from app.reports.dashboard_charts import Drill, all_charts
from app.reports.dashboard_data import OPEN_STAGES, OPEN_TICKETS, Figures, Reader, figures
from app.reports.dashboard_filters import Filters, Sight, facts_state
from app.lists.links import EQ, IN

TITLES = {"open_value": _l("Open pipeline value"), "won_value": _l("Won value"), "won_count": _l("Deals won"),
          "win_rate": _l("Win rate"), "conversion": _l("Lead-to-customer conversion"),
          "cycle_days": _l("Average sales cycle"), "open_tickets": _l("Open tickets"),
          "late_tickets": _l("Tickets past their priority window")}
KINDS = {"open_value": "money", "won_value": "money", "won_count": "count", "win_rate": "rate",
         "conversion": "rate", "cycle_days": "days", "open_tickets": "count", "late_tickets": "count"}
CHART_TITLES = {"pipeline_by_stage": _l("Pipeline by stage"), "won_lost_by_month": _l("Won and lost"),
                "revenue_by_industry": _l("Customer revenue by industry"), "lead_funnel": _l("Lead funnel"),
                "activities_by_week": _l("Activities by type"), "open_tickets": _l("Open tickets by status and priority"),
                "ticket_age": _l("Open ticket age")}


def shown(value: float | int | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return format_percent(value, "#,##0.#%")
    if kind == "days":
        return _("%(days)s days", days=format_decimal(value, "#,##0.#"))
    return format_decimal(value, "#,##0" if kind == "count" or float(value).is_integer() else "#,##0.00")


def change(value: float | int | None, before: float | int | None, kind: str) -> tuple[str, str]:
    """(text, direction up|down|same|none) of a figure against the previous period's."""
    if value is None or before is None:
        return "—", "none"
    delta = value - before
    direction = "up" if delta > 0 else "down" if delta < 0 else "same"
    if kind == "rate":
        return _("%(delta)s points", delta=format_decimal(round(delta * 100, 1), "+#,##0.#;-#,##0.#")), direction
    if kind == "days":
        return _("%(days)s days", days=format_decimal(round(delta, 1), "+#,##0.#;-#,##0.#")), direction
    if not before:
        return (_("new") if value else "±0"), direction
    return format_percent(delta / before, "+#,##0%;-#,##0%"), direction


@dataclass
class Kpi:
    key: str
    title: str
    value: str
    previous: str
    change: str
    direction: str
    link: str | None
    parts: list[tuple[str, int, str | None]] = field(default_factory=list)  # (label, count, link)


def _links(drill: Drill) -> dict[str, str]:
    won = drill.url(OPPORTUNITIES, ("stage", EQ, "won"))
    return {"open_value": drill.url(OPPORTUNITIES, ("stage", IN, list(OPEN_STAGES))), "won_value": won,
            "won_count": won, "win_rate": drill.url(OPPORTUNITIES, ("stage", IN, ["won", "lost"])),
            "conversion": drill.url(LEADS, ("status", EQ, "converted")), "cycle_days": won,
            "open_tickets": drill.url(TICKETS, ("status", IN, list(OPEN_TICKETS)))}


def late_parts(now: Figures, drill: Drill, today: dt.date) -> list[tuple[str, int, str | None]]:
    """Per priority: the open tickets of the period past its window, and the list of them."""
    parts = []
    for priority in reversed(PRIORITIES):
        last = min(drill.filters.end, today - dt.timedelta(days=PRIORITY_WINDOW_DAYS[priority] + 1))
        n = sum(c for (day, _s, p), c in now.open_tickets.items()
                if p == priority and (today - day).days > PRIORITY_WINDOW_DAYS[priority])
        link = drill.url(TICKETS, ("status", IN, list(OPEN_TICKETS)), ("priority", EQ, priority),
                         end=last) if n and last >= drill.filters.start else None
        parts.append((str(value_label(priority)), n, link))
    return parts


@dataclass
class Page:
    filters: Filters
    previous: Filters
    kpis: list[Kpi]
    charts: dict[str, list[Figure]]
    titles: dict[str, Any]
    built_at: dt.datetime | None
    refresh: DashboardRefresh | None  # the facts' state row: a running refresh's progress


# Per process, the last views drawn: the facts change only when rebuilt (their time is in the key), so a view
# asked again (a reload, a shared link, another worker's user of the same scope) is not read and drawn again.
# The key holds the fact holders the user's scope and filters give (never another scope's figures), the
# day (late tickets) and the language (labels, numbers).
CACHED_VIEWS = 64
_views: OrderedDict[tuple, tuple[list[Kpi], dict[str, list[Figure]]]] = OrderedDict()
_views_lock = threading.Lock()


def _remembered(key: tuple, make: Callable[[], tuple[list[Kpi], dict[str, list[Figure]]]]):
    with _views_lock:
        if key in _views:
            _views.move_to_end(key)
            return _views[key]
    found = make()
    with _views_lock:
        _views[key] = found
        while len(_views) > CACHED_VIEWS:
            _views.popitem(last=False)
    return found


def _view(filters: Filters, today: dt.date) -> tuple[list[Kpi], dict[str, list[Figure]]]:
    """The KPI cards and charts of a view; OutOfScope (from Sight) when the owner or team is not the user's."""
    sight = Sight.of(filters)
    state = facts_state()
    key = (state.built_at if state else None, filters, today, str(get_locale()),
           tuple((source, tuple(holders)) for source, holders in sorted(sight.holders.items())))
    return _remembered(key, lambda: _drawn(sight, filters, today))


def _drawn(sight: Sight, filters: Filters, today: dt.date) -> tuple[list[Kpi], dict[str, list[Figure]]]:
    before = filters.previous()
    reader = Reader(sight, filters.start, filters.end)
    now, then = figures(reader, today), figures(Reader(sight, before.start, before.end), today)
    drill = Drill(filters)
    values, previous, links = now.kpis(today), then.kpis(today), _links(drill)
    kpis = []
    for key, title in TITLES.items():
        kind = KINDS[key]
        text, direction = change(values[key], previous[key], kind)
        kpis.append(Kpi(key, str(title), shown(values[key], kind), shown(previous[key], kind), text, direction,
                        links.get(key), late_parts(now, drill, today) if key == "late_tickets" else []))
    return kpis, all_charts(now, reader, drill, today)


def charts(filters: Filters, today: dt.date) -> dict[str, list[Figure]]:
    """The charts alone, as the page draws them (a chart's CSV export); OutOfScope as for build()."""
    return _view(filters, today)[1]


def build(filters: Filters, today: dt.date) -> Page:
    """The page's numbers; OutOfScope (from Sight) when the owner or team is not the user's to see."""
    kpis, drawn = _view(filters, today)
    state = facts_state()
    return Page(filters, filters.previous(), kpis, drawn, CHART_TITLES, state.built_at if state else None, state)
