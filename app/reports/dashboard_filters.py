"""The dashboard's filters (contract section 5): period, custom range, owner and team, within the data scope.

`/dashboard/?period=P&from=YYYY-MM-DD&to=YYYY-MM-DD&owner=USER_ID&team=TEAM_ID`, P one of
month, quarter, year, 12m (the twelve calendar months ending with this one), custom (from..to,
both days included). Each period is compared with the one just before it, of the same length.
An owner or team outside the user's data scope is answered 404: never other people's numbers.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Mapping

from flask import g
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.lists.scope import sight
from app.models import Team, User
from app.models.dashboard import EVERYONE, SOURCES, DashboardRefresh, team_holder

PERIODS = {"month": _l("This month"), "quarter": _l("This quarter"), "year": _l("This year"),
           "12m": _l("Last 12 months"), "custom": _l("Custom range")}
DEFAULT_PERIOD = "12m"
FIRST_YEAR, LAST_YEAR = 1990, 2100  # a custom range outside these years is a typing error
KEY_MAX = 2**31 - 1


class BadFilter(ValueError):
    """A filter value that cannot be used (400); the message is for the user."""


class OutOfScope(LookupError):
    """An owner or team the user may not see, or that does not exist (404)."""


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_range(period: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """(first day, last day) of a named period containing `today`."""
    month = today.replace(day=1)
    first = {"month": month, "quarter": month.replace(month=(month.month - 1) // 3 * 3 + 1),
             "year": month.replace(month=1), "12m": add_months(month, -11)}[period]
    months = {"month": 1, "quarter": 3, "year": 12, "12m": 12}[period]
    return first, add_months(first, months) - dt.timedelta(days=1)


def _date(args: Mapping[str, str], name: str) -> dt.date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise BadFilter(_("%(field)s: not a valid date (YYYY-MM-DD).", field=name)) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise BadFilter(_("%(field)s: a year between %(first)s and %(last)s.", field=name,
                          first=FIRST_YEAR, last=LAST_YEAR))
    return day


def _key(args: Mapping[str, str], name: str) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > KEY_MAX:
        raise BadFilter(_("%(field)s: not a record number.", field=name))
    return int(raw)


@dataclass(frozen=True)
class Filters:
    period: str
    start: dt.date
    end: dt.date  # included
    owner: int | None = None
    team: int | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str], today: dt.date) -> "Filters":
        period = (args.get("period") or "").strip() or None
        start, end = _date(args, "from"), _date(args, "to")
        if period is None:
            period = "custom" if start or end else DEFAULT_PERIOD
        if period not in PERIODS:
            raise BadFilter(_("period: one of %(names)s.", names=", ".join(PERIODS)))
        if period == "custom":
            if not (start and end):
                raise BadFilter(_("A custom range needs both “from” and “to”."))
            if start > end:
                raise BadFilter(_("The range starts after it ends."))
        else:
            start, end = period_range(period, today)
        return cls(period, start, end, _key(args, "owner"), _key(args, "team"))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Filters":
        """The period just before, of the same kind (a custom range: as many days)."""
        if self.period == "custom":
            return replace(self, start=self.start - dt.timedelta(days=self.days),
                           end=self.start - dt.timedelta(days=1))
        months = {"month": 1, "quarter": 3, "year": 12, "12m": 12}[self.period]
        start = add_months(self.start, -months)
        return replace(self, start=start, end=self.start - dt.timedelta(days=1))

    def args(self) -> dict[str, str]:
        """The URL arguments that name this view of the dashboard (contract names)."""
        found = {"period": self.period}
        if self.period == "custom":
            found.update({"from": self.start.isoformat(), "to": self.end.isoformat()})
        if self.owner is not None:
            found["owner"] = str(self.owner)
        if self.team is not None:
            found["team"] = str(self.team)
        return found


def visible_owners(source: str) -> set[int] | None:
    """The owners whose records the user sees on `source`; None when they see the whole table.

    The lists' read of every owned table's scope (one statement, once per request)."""
    scope, owners = sight()[source]
    return None if scope == "all" else set(owners)


def sees_everything() -> bool:
    """Whether the user sees every owned record (the company-wide snapshots' history is theirs to see)."""
    return all(visible_owners(source) is None for source in SOURCES)


def team_members(team: int) -> set[int]:
    return set(db.session.scalars(select(User.user_id).where(User.team_id == team)))


def facts_state() -> DashboardRefresh | None:
    """The facts' state row (their time, a running refresh's step), read once per request."""
    if "crm_facts_state" not in g:  # held here: the session's identity map would let it go and read it again
        g.crm_facts_state = db.session.get(DashboardRefresh, 1)
    return g.crm_facts_state


def summed_team(team: int, members: set[int]) -> bool:
    """Whether the facts hold team rows for exactly these members (the team has not changed since their build)."""
    state = facts_state()
    return state is not None and (state.teams or {}).get(str(team)) == sorted(members)


@dataclass(frozen=True)
class Sight:
    """The fact holders each source table's figures are read for (the scope, narrowed by the filters)."""

    holders: dict[str, list[int]]

    @classmethod
    def of(cls, filters: Filters) -> "Sight":
        """The holders per source; OutOfScope when the owner or team is not the user's to see."""
        wanted: set[int] | None = None
        if filters.owner is not None:
            if db.session.get(User, filters.owner) is None:
                raise OutOfScope(filters.owner)
            wanted = {filters.owner}
        if filters.team is not None:
            if db.session.get(Team, filters.team) is None:
                raise OutOfScope(filters.team)
            members = team_members(filters.team)
            wanted = members if wanted is None else wanted & members
        primary = visible_owners("opportunities")
        if wanted is not None and primary is not None and not wanted <= primary:
            raise OutOfScope(filters.owner or filters.team)
        holders = {}
        for source in SOURCES:
            seen = visible_owners(source)
            if wanted is None:
                holders[source] = [EVERYONE] if seen is None else sorted(seen)
            else:
                holders[source] = sorted(wanted if seen is None else wanted & seen)
        if filters.team is not None and filters.owner is None and wanted and summed_team(filters.team, wanted):
            # the team's pre-summed rows (a scope "all" reads them, as the policy does): one row per group
            summed = [team_holder(filters.team)]
            holders.update({source: summed for source in SOURCES if visible_owners(source) is None})
        return cls(holders)


def owner_choices(filters: Filters) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(owners, teams) the filter bar offers: those within the user's scope on opportunities."""
    seen = visible_owners("opportunities")
    users = select(User.user_id, User.username).where(User.active).order_by(User.username)
    teams = select(Team.team_id, Team.name).order_by(Team.name)
    if seen is not None:
        users = users.where(User.user_id.in_(seen))
        full = [t for t, in db.session.execute(select(User.team_id).where(User.user_id.in_(seen),
                                                                          User.team_id.is_not(None)).distinct())]
        teams = teams.where(Team.team_id.in_([t for t in full if team_members(t) <= seen]))
    owners = [(i, n) for i, n in db.session.execute(users)]
    return owners, [(i, n) for i, n in db.session.execute(teams)]
