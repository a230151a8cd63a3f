"""The dashboard's pre-aggregated figures (migration 0029): counts and sealed money sums per day or month and owner.

Rebuilt whole by the reports job and "Refresh now" (app/reports/facts.py), read by the
dashboard (app/reports/dashboard_data.py) for any period, owner and team. Money sums are
sealed per row like the amount columns (associated data: the row's natural key), so no
plaintext amount is stored. Row-level security (0029) shows a row to a user who sees the
whole source table, or whose visible owners include the row's `holder`.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Model

GRAINS = ("d", "m")  # a day's figures, or a month's (its first day in `day`)
EVERYONE = -1  # holder of the company-wide rows (visible only to scope "all")
UNOWNED = 0  # holder of records without an owner
# below -1: a team's rows, summed over its members at the facts' build (migration 0032); the policy shows
# them only to scope "all" (a negative holder is never among a user's visible owners)


def team_holder(team_id: int) -> int:
    """The holder of team `team_id`'s pre-summed rows."""
    return -1 - team_id
SOURCES = ("customers", "leads", "opportunities", "service_tickets")  # whose data scope decides


class DashboardFact(Model):
    """One figure group: metric, grain, day, holder (owner) and up to two dimension values."""

    __tablename__ = "dashboard_facts"
    __table_args__ = (CheckConstraint("grain IN ('d', 'm')", name="grain"),
                      CheckConstraint("source IN ('customers', 'leads', 'opportunities', 'service_tickets')",
                                      name="source"))

    metric: Mapped[str] = mapped_column(String(30), primary_key=True)
    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    holder: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    k1: Mapped[str] = mapped_column(String(255), primary_key=True)
    k2: Mapped[str] = mapped_column(String(255), primary_key=True)
    source: Mapped[str] = mapped_column(String(30), nullable=False)
    n: Mapped[int] = mapped_column(BigInteger, nullable=False)
    days: Mapped[Optional[int]] = mapped_column(BigInteger)  # sum of whole days (a sales cycle), not money
    amount: Mapped[Optional[bytes]] = mapped_column(LargeBinary)  # sealed sum in cents (app/reports/facts.py)


class DashboardRefresh(Model):
    """The one row of the facts' state: when they were built, and the progress of a running refresh."""

    __tablename__ = "dashboard_refresh"
    __table_args__ = (CheckConstraint("refresh_id = 1", name="one_row"),)

    refresh_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    built_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)  # the data's time (UTC) of the facts read
    started_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    finished_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    step: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    steps: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    message: Mapped[Optional[str]] = mapped_column(Text)
    # {team id: [member ids]} when the facts were built: a team's pre-summed rows hold while it has these members
    teams: Mapped[Optional[dict]] = mapped_column(JSONB)
