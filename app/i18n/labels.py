"""Translatable texts derived from the models: field labels, screen titles, documented values.

English texts are derived from names (`customer_id` -> "Customer ID"); their
translations live in the catalog like every other string. Field labels carry
the table as gettext context, since one English word can have several
Chinese labels ("Name" of a customer is 客户名称, of an opportunity 机会名称).
`model_messages()` lists them for extraction (see `app/i18n/extract.py`).
"""
from __future__ import annotations

import re

from typing import Any

from flask import has_request_context
from flask_babel import LazyString, get_locale
from sqlalchemy import inspect

from app.i18n.translations import lazy_gettext, lazy_pgettext
from app.models.base import Model
from app.models.choices import CHOICE_COLUMNS


def N_(text: str) -> str:
    """Marks a string for the catalog where it must stay English in code (e.g. a permission's name)."""
    return text


def label_for(name: str) -> str:
    """The English label of a column or table name."""
    return name.replace("_id", " ID").replace("_", " ").strip().capitalize()


def column_label(table: str, name: str):
    """The field label of `table.name` in the user's language (a custom field's from its catalogue row)."""
    custom = custom_info(table, name)
    if custom is not None:
        return LazyString(custom_label, custom)
    return lazy_pgettext(table, label_for(name))


def custom_info(table: str, name: str) -> Any:
    """The reflected description of an extra column (app/fields/reflect.py), None for a declared one."""
    found = Model.metadata.tables.get(table)
    column = found.columns.get(name) if found is not None else None
    return column.info.get("custom") if column is not None else None


def user_locale() -> str:
    return str(get_locale() or "en") if has_request_context() else "en"


def custom_label(custom: Any, locale: str | None = None) -> str:
    """A custom field's label in a language (the user's): its catalogue's, else derived from its name."""
    if custom.field is not None:
        return custom.field.label(locale or user_locale())
    return label_for(custom.name)


def custom_choice_label(custom: Any, value: Any, locale: str | None = None) -> str:
    """A custom choice field's value by its label in a language (the user's)."""
    return custom.field.choice_label(value, locale or user_locale()) if custom.field else str(value)


def record_name(model: type) -> str:
    """'ServiceTicket' -> 'Service ticket'."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", model.__name__).capitalize()


def screen_titles(model: type) -> dict[str, str]:
    """English titles of a model's list, show, add and edit screens."""
    record = record_name(model)
    return {"list_title": label_for(model.__tablename__), "show_title": record,
            "add_title": f"Add {record.lower()}", "edit_title": f"Edit {record.lower()}"}


def lazy_titles(model: type) -> dict:
    return {key: lazy_gettext(text) for key, text in screen_titles(model).items()}


def choice_label(value: str):
    """A documented value (lead status, ticket priority, ...) in the user's language."""
    return lazy_pgettext("value", value.capitalize())


def model_messages(models: list[type]) -> list[tuple[str | None, str]]:
    """(context, msgid) of every derived text of `models`, for the catalog."""
    found: list[tuple[str | None, str]] = []
    for model in models:
        mapper = inspect(model)
        table = mapper.local_table.name
        found += [(None, text) for text in screen_titles(model).values()]
        found += [(table, label_for(c.name)) for c in mapper.local_table.columns]
        found += [(table, label_for(r.key)) for r in mapper.relationships if r.direction.name == "MANYTOONE"]
    for values in CHOICE_COLUMNS.values():
        found += [("value", v.capitalize()) for v in values]
    return list(dict.fromkeys(found))
