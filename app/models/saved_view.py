"""A list's saved view: filters, sort, quick search and columns under a name, private or shared with a role."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import UTC_NOW, Model


class SavedView(Model):
    """`args`: the list's URL arguments ({name: [values]}); `columns`: the chosen columns in order (or [])."""

    __tablename__ = "saved_views"
    __table_args__ = (
        # a user's views of one list by name: one each; and at most one default per user and list
        Index("uq_saved_views_owner_name", "user_id", "view_name", "name", unique=True),
        Index("uq_saved_views_default", "user_id", "view_name", unique=True,
              postgresql_where=text("is_default")),
        Index("ix_saved_views_role", "role_id", "view_name"),
    )

    saved_view_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.user_id", ondelete="CASCADE"), nullable=False)
    view_name: Mapped[str] = mapped_column(String(100), nullable=False)  # the screen ("CustomerView")
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    role_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("roles.role_id", ondelete="CASCADE"))
    args: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    columns: Mapped[list] = mapped_column(JSONB, nullable=False, server_default="[]")
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, server_default=UTC_NOW)
