"""Shared column definitions: database-filled timestamps and optimistic locking."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, MetaData, text
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Model(DeclarativeBase):
    """Our own declarative base.

    Not FAB's `Model`: FAB maps its own User/Role/Permission classes on that
    registry, and sharing it would make every "User" reference ambiguous.
    """

    metadata = MetaData(naming_convention=NAMING)


# The database fills timestamps (UTC) so rows written with plain SQL get them too.
UTC_NOW = text("(now() AT TIME ZONE 'utc')")


class TimestampMixin:
    """created_at / updated_at filled by the database; a trigger refreshes updated_at."""

    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, server_default=UTC_NOW
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, server_default=UTC_NOW, server_onupdate=UTC_NOW
    )


class VersionedMixin(TimestampMixin):
    """Adds a `version` counter used for optimistic locking.

    SQLAlchemy puts `WHERE version = <loaded>` on every UPDATE, and a trigger
    bumps it for plain-SQL updates too, so a stale edit form can be detected.
    """

    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.version}


__all__ = ["Model", "TimestampMixin", "VersionedMixin", "UTC_NOW"]
