"""The tables' own ORM listeners: blank text stored as NULL, a permission's readable name.

Installed by create_app (`install`), never by importing a model: code that writes
models outside the app factory calls `app.install_listeners` (it installs these too).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import String, event
from sqlalchemy.orm import Mapper

from app.models.base import Model
from app.models.security import Permission, describe_permission


def blank_is_null(mapper: Mapper, _connection: Any, target: Any) -> None:
    """An optional text field left empty in a form is stored as NULL, not ''."""
    for column in mapper.columns:
        if column.nullable and isinstance(column.type, String):
            key = mapper.get_property_by_column(column).key
            value = target.__dict__.get(key)
            if isinstance(value, str) and not value.strip():
                setattr(target, key, None)


def name_permission(_mapper: Mapper, _connection: Any, target: Permission) -> None:
    """`permission_name` says what the row grants ("can_edit on Customers")."""
    target.permission_name = describe_permission(target.permission, target.view_menu)


def install() -> None:
    """Listen before every INSERT and UPDATE (once; calling again changes nothing)."""
    for name in ("before_insert", "before_update"):
        if not event.contains(Model, name, blank_is_null):
            event.listen(Model, name, blank_is_null, propagate=True)
        if not event.contains(Permission, name, name_permission):
            event.listen(Permission, name, name_permission)
