"""`flask --app run crm describe-view Customers`: a derived screen's configuration, attribute by attribute."""
from __future__ import annotations

from typing import Any, Iterator

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel.speaklater import LazyString
from wtforms.fields.core import UnboundField

from app.crud.derive import DERIVED_ATTRIBUTES


def menu_views() -> Iterator[tuple[str, type]]:
    """(menu name, view class) of every menu entry that opens a view."""
    pending = list(current_app.appbuilder.menu.get_list())
    while pending:
        item = pending.pop(0)
        pending += item.childs
        if item.baseview is not None:
            yield item.name, type(item.baseview)


def is_derived(view: type) -> bool:
    return getattr(view, "model", None) is not None and hasattr(view, "derived_attributes")


def find_view(name: str) -> type | None:
    """The registered view named `name` in the menu ("Customers") or by class ("CustomerView")."""
    wanted = name.casefold()
    for label, view in menu_views():
        if label.casefold() == wanted:
            return view
    for view in current_app.appbuilder.baseviews:
        if type(view).__name__.casefold() == wanted:
            return type(view)
    return None


def shown(value: Any) -> str:
    """A value on one line: names of fields, validators and functions, not their reprs."""
    if isinstance(value, (str, LazyString)):
        return str(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(shown(item) for item in value)
    if isinstance(value, SQLAInterface):
        return f"{type(value).__name__}({value.obj.__name__})"
    if isinstance(value, UnboundField):
        return value.field_class.__name__
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    return type(value).__name__


VALIDATORS_NOTE = "  (as FAB holds them: building the forms appends its own to these lists)"


def describe(view: type) -> list[str]:
    """Lines naming each derived attribute, whether the view declared it, and its value."""
    lines = [f"{view.__name__}: derived from {view.model.__name__} "
             f"({len(view.derived_attributes)} derived, "
             f"{len(DERIVED_ATTRIBUTES) - len(view.derived_attributes)} declared by the view)"]
    for name in DERIVED_ATTRIBUTES:
        value = getattr(view, name)
        origin = "derived" if name in view.derived_attributes else "declared"
        if isinstance(value, dict) and value:
            lines.append(f"{name} [{origin}]:{VALIDATORS_NOTE if name == 'validators_columns' else ''}")
            lines += [f"    {key}: {shown(item)}" for key, item in value.items()]
        else:
            lines.append(f"{name} [{origin}]: {shown(value) if value else '(none)'}")
    return lines


@click.command("describe-view")
@click.argument("name")
@with_appcontext
def describe_view_command(name: str) -> None:
    """Print a screen's derived configuration (NAME: as in the menu, or the view's class)."""
    view = find_view(name)
    if view is None:
        names = ", ".join(label for label, found in menu_views() if is_derived(found))
        raise click.UsageError(f"No view named {name!r}. Derived views: {names}")
    if not is_derived(view):
        raise click.UsageError(f"{view.__name__} is not derived from a model (no @derived_from): "
                               "its configuration is all in its class")
    click.echo("\n".join(describe(view)))
