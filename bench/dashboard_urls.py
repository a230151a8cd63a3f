"""The dashboard's filter combinations a benchmark measures (bench.screens)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable


def dashboard_filters(scalar: Callable[[str], Any]) -> list[tuple[str, str]]:
    """A few filter combinations of the dashboard: periods, the busiest owner, the biggest team, a custom range."""
    owner = scalar("SELECT owner_id FROM opportunities WHERE owner_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC "
                   "LIMIT 1")
    team = scalar("SELECT team_id FROM users WHERE team_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    today = dt.date.today()
    start = today.replace(year=today.year - 2, day=17)
    found = [("(default: last 12 months, all)", "period=12m"), ("this month", "period=month"),
             ("custom range, partial months", f"period=custom&from={start}&to={today - dt.timedelta(days=9)}")]
    if owner is not None:
        found.append(("this year, busiest owner", f"period=year&owner={owner}"))
    if team is not None:
        found.append(("this quarter, biggest team", f"period=quarter&team={team}"))
        found.append(("last 12 months, biggest team", f"period=12m&team={team}"))
    return found


def measure_dashboard(measure: Callable[[str, str, str], None], scalar: Callable[[str], Any]) -> None:
    """measure(label, url, rows involved) of each combination."""
    facts = scalar("SELECT count(*) FROM dashboard_facts")
    for label, query in dashboard_filters(scalar):
        measure(f"/dashboard/ {label}", f"/dashboard/?{query}", f"{facts:,} facts")
