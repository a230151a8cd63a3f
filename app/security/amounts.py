"""Who may read a table's encrypted amounts: whoever may open its records (can_show on the table's screen).

The table → screen map is built once at start-up (`init_amount_screens`, after the screens are
registered); the column chooser, the History panel, the log list and the customer timeline ask
`amounts_readable`.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app

EXTENSION = "crm_amount_screens"


def init_amount_screens(app: Flask, appbuilder: Any) -> None:
    """Map each table to the first registered screen over it (its permission name)."""
    screens: dict[str, str] = {}
    for view in appbuilder.baseviews:
        model = getattr(view, "model", None)
        if model is not None:
            screens.setdefault(model.__tablename__, view.class_permission_name)
    app.extensions[EXTENSION] = screens


def amounts_readable(table: str) -> bool:
    """Whether the current user may read `table`'s encrypted amounts: as on its show page."""
    screen = current_app.extensions[EXTENSION].get(table)
    return screen is not None and current_app.appbuilder.sm.has_access("can_show", screen)
