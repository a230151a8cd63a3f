"""The dashboard's numbers for a period and a set of owners, read from the pre-aggregated facts.

A range is read as its whole months from the month rows and its partial months' days from
the day rows, so any period costs a few hundred rows; counts are summed in SQL, money sums
(sealed per row) are opened here and added in integer cents. Row-level security on the
facts limits every statement to the user's scope as well (migration 0029).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from app.encryption.columns import key_ring
from app.extensions import db
from app.models.choices import OPPORTUNITY_STAGES, PRIORITY_WINDOW_DAYS
from app.reports.scans import AGE_BUCKETS
from app.reports.dashboard_filters import Sight, add_months
from app.reports.facts import COLUMN, METRIC_SOURCES, TABLE, month_of, place

OPEN_STAGES = tuple(s for s in OPPORTUNITY_STAGES if s not in ("won", "lost"))
OPEN_TICKETS = ("open", "in progress")
WEEKLY_UP_TO = 92  # days: a shorter range is drawn per week, a longer one per month
# ages (whole days) where an open ticket changes class: an age bucket's edge, or past a priority's window
AGE_EDGES = sorted({e for _l, low, high in AGE_BUCKETS for e in (low, high) if e}
                   | {days + 1 for days in PRIORITY_WINDOW_DAYS.values()})


def spans(start: dt.date, end: dt.date) -> dict[str, Any]:
    """Bind values for the range: whole months [m0, m1) from month rows, the rest's days from day rows."""
    stop = end + dt.timedelta(days=1)
    m0 = start if start.day == 1 else add_months(start, 1)
    m1 = month_of(stop)
    if m0 >= m1:  # no whole month: every day from day rows
        return {"m0": start, "m1": start, "a0": start, "a1": stop, "b0": stop, "b1": stop}
    return {"m0": m0, "m1": m1, "a0": start, "a1": m0, "b0": m1, "b1": stop}


RANGE = ("metric = :metric AND holder = ANY(:holders) AND ((grain = 'm' AND day >= :m0 AND day < :m1) "
         "OR (grain = 'd' AND ((day >= :a0 AND day < :a1) OR (day >= :b0 AND day < :b1))))")
DAYS = "metric = :metric AND holder = ANY(:holders) AND grain = 'd' AND day >= :a0 AND day < :a1"


@dataclass
class Reader:
    """Reads one range's facts for the holders of a Sight."""

    sight: Sight
    start: dt.date
    end: dt.date

    def _params(self, metric: str, days_only: bool = False) -> dict[str, Any]:
        bounds = (spans(self.start, self.end) if not days_only else
                  {"a0": self.start, "a1": self.end + dt.timedelta(days=1)})
        return {"metric": metric, "holders": self.sight.holders[METRIC_SOURCES[metric]], **bounds}

    def counts(self, metric: str) -> dict[tuple[str, str], tuple[int, int]]:
        """{(k1, k2): (count, sum of days)} over the range."""
        rows = db.session.execute(text(f"SELECT k1, k2, sum(n), sum(days) FROM dashboard_facts WHERE {RANGE} "
                                       "GROUP BY k1, k2"), self._params(metric))
        return {(k1, k2): (int(n), int(days or 0)) for k1, k2, n, days in rows}

    def series(self, metric: str, unit: str) -> dict[tuple[dt.date, str], int]:
        """{(week's Monday or month's first day, k1): count}; weeks from the day rows only."""
        days_only = unit == "week"
        where = DAYS if days_only else RANGE
        rows = db.session.execute(text(f"SELECT CAST(date_trunc(:unit, day) AS date), k1, sum(n) "
                                       f"FROM dashboard_facts WHERE {where} GROUP BY 1, 2"),
                                  {**self._params(metric, days_only), "unit": unit})
        return {(bucket, k1): int(n) for bucket, k1, n in rows}

    def aged(self, metric: str, k1: tuple[str, ...], today: dt.date) -> dict[tuple[dt.date, str, str], int]:
        """{(day, k1, k2): count} from the day rows, for the given k1 values, one day per age class.

        Days between two of AGE_EDGES are alike to every reader (age bucket, past a priority's window),
        so they are summed in SQL under the class's newest day: a year is a few dozen rows, not thousands."""
        rows = db.session.execute(text(f"SELECT max(day), k1, k2, sum(n) FROM dashboard_facts WHERE {DAYS} "
                                       "AND k1 = ANY(:k1) GROUP BY width_bucket(:today - day, :edges), k1, k2"),
                                  {**self._params(metric, True), "k1": list(k1), "today": today,
                                   "edges": AGE_EDGES})
        return {(day, a, b): int(n) for day, a, b, n in rows}

    def cents(self, metric: str) -> dict[str, int]:
        """{k1: money sum in cents}: each row's sealed sum opened with its natural key."""
        totals: dict = {}
        rows = db.session.execute(text(f"SELECT grain, day, holder, k1, k2, amount FROM dashboard_facts "
                                       f"WHERE {RANGE} AND amount IS NOT NULL"), self._params(metric))
        key_ring().sum_cents(((place(metric, grain, (day, holder, k1, k2)), amount, k1)
                              for grain, day, holder, k1, k2, amount in rows), TABLE, COLUMN, totals)
        return totals


def money(cents: int) -> float:
    return float(Decimal(cents) / 100)


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class Figures:
    """The key figures of one range (KPI cards), and the breakdowns the charts draw."""

    stages: dict[str, tuple[int, int]] = field(default_factory=dict)  # stage: (count, sum of cycle days)
    stage_cents: dict[str, int] = field(default_factory=dict)
    leads: dict[str, int] = field(default_factory=dict)  # status: count (the range's cohort)
    open_tickets: dict[tuple[dt.date, str, str], int] = field(default_factory=dict)  # (day, status, priority)

    def kpis(self, today: dt.date) -> dict[str, float | int | None]:
        won, lost = self.stages.get("won", (0, 0)), self.stages.get("lost", (0, 0))
        leads = sum(self.leads.values())
        late = sum(n for (day, _s, priority), n in self.open_tickets.items()
                   if (today - day).days > PRIORITY_WINDOW_DAYS[priority])
        return {
            "open_value": money(sum(self.stage_cents.get(s, 0) for s in OPEN_STAGES)),
            "won_value": money(self.stage_cents.get("won", 0)), "won_count": won[0],
            "win_rate": ratio(won[0], won[0] + lost[0]),
            "conversion": ratio(self.leads.get("converted", 0), leads),
            "cycle_days": round(won[1] / won[0], 1) if won[0] else None,
            "open_tickets": sum(self.open_tickets.values()), "late_tickets": late,
        }


def figures(reader: Reader, today: dt.date) -> Figures:
    """The range's figures: four statements."""
    stages = {k1: v for (k1, _k2), v in reader.counts("opportunities").items()}
    leads = {k1: n for (k1, _k2), (n, _d) in reader.counts("leads").items()}
    return Figures(stages, reader.cents("opportunities"), leads, reader.aged("tickets", OPEN_TICKETS, today))
