"""A user's saved dashboard layout: which charts, in what order, and the filters it opens with."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import UTC_NOW, Model


class DashboardLayout(Model):
    """`charts`: report types shown, in order; `query`: the dashboard's filter arguments (a query string)."""

    __tablename__ = "dashboard_layouts"

    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True)
    charts: Mapped[list] = mapped_column(JSONB, nullable=False, server_default="[]")
    query: Mapped[str] = mapped_column(String(500), nullable=False, server_default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)
