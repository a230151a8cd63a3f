"""The custom-field catalogue (migration 0031): extra columns of the CRM tables, and the schema version."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, Integer, SmallInteger, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Model

NOW = text("now()")
# the documented field types; link:<table> is a foreign key to one of the CRM tables
FIELD_TYPES = ("text", "long_text", "number", "amount", "date", "datetime", "boolean", "choice")
TYPE_PATTERN = r"^(text|long_text|number|amount|date|datetime|boolean|choice|link:[a-z_]+)$"
STATES = ("active", "hidden")  # hidden: removed, its data kept until `crm fields purge`
SOURCES = ("admin", "sync")  # sync: a column a DBA added by hand, found by `crm fields sync`


class CustomField(Model):
    """One extra column of a CRM table: its type, labels in both languages, choices and state."""

    __tablename__ = "custom_fields"
    __table_args__ = (
        CheckConstraint(f"field_type ~ '{TYPE_PATTERN}'", name="field_type"),
        CheckConstraint("state IN ('active', 'hidden')", name="state"),
        CheckConstraint("source IN ('admin', 'sync')", name="source"),
        UniqueConstraint("table_name", "column_name"),
    )

    field_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(Text, nullable=False)
    column_name: Mapped[str] = mapped_column(Text, nullable=False)
    field_type: Mapped[str] = mapped_column(Text, nullable=False)
    label_en: Mapped[Optional[str]] = mapped_column(Text)
    label_zh: Mapped[Optional[str]] = mapped_column(Text)
    choices: Mapped[Optional[list]] = mapped_column(JSONB)  # [{"value", "label_en", "label_zh"}]
    required: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    financial: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="active")
    source: Mapped[str] = mapped_column(Text, nullable=False, server_default="admin")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=NOW)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=NOW)


class CrmSchemaVersion(Model):
    """The one row whose version every field change bumps: workers compare it to reflect anew."""

    __tablename__ = "crm_schema_version"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=NOW)
