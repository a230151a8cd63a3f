"""What a screen derives from a custom field's catalogue row: its choices' labels, required, its select."""
from __future__ import annotations

from typing import Any

from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import LazyString
from sqlalchemy import Text, inspect, select
from wtforms import SelectField
from wtforms import validators as v

from app.crud.forms import AjaxRelatedField
from app.crud.lookups import option_label
from app.encryption.columns import EncryptedAmount
from app.extensions import db
from app.i18n.formatting import show_value
from app.i18n.labels import custom_choice_label, custom_label
from app.models.base import Model
from app.models.searchable import custom_choice, is_custom


def custom_required(column: Any) -> bool:
    """A custom field marked required in the catalogue (its column stays nullable: rows added before it)."""
    custom = column.info.get("custom")
    return bool(custom and custom.field and custom.field.required)


def custom_choices(column: Any) -> tuple[str, ...]:
    """The documented values of a custom choice field, in the catalogue's order; () for any other column."""
    return tuple(column.info["custom"].field.choice_values()) if custom_choice(column) else ()


def labelled_choices(column: Any) -> list[tuple[str, Any]]:
    """(value, label in the user's language) of a custom choice field."""
    custom = column.info["custom"]
    return [(value, LazyString(custom_choice_label, custom, value)) for value in custom_choices(column)]


def custom_choice_field(label: Any, column: Any, required: bool) -> SelectField:
    """A dropdown of the field's values with their labels; anything else is a form error."""
    blank = [] if required else [("", "—")]
    return SelectField(label, [v.InputRequired() if required else v.Optional()],
                       choices=blank + labelled_choices(column), widget=Select2Widget(),
                       validate_choice=True, coerce=lambda value: value or None)


def custom_choice_filter(label: Any, column: Any) -> SelectField:
    """The filter input of a custom choice field: its values by label."""
    return SelectField(label, choices=labelled_choices(column), widget=Select2Widget())


def custom_formatter(column: Any):
    """Shows a custom choice field's value by its label in the user's language."""
    custom = column.info["custom"]

    def show(value: Any) -> Any:
        return custom_choice_label(custom, value) if value is not None else show_value(value)
    return show



def custom_labels(column: Any) -> set[str]:
    """A custom field's labels in both languages (CSV headers in either name it)."""
    custom = column.info.get("custom")
    if custom is None:
        return set()
    return {custom_label(custom, "en"), custom_label(custom, "zh")}


def custom_choice_value(column: Any, text: str) -> str | None:
    """The value of a custom choice typed as its value or its label in either language, in any case."""
    folded = text.casefold()
    custom = column.info["custom"]
    for value in custom_choices(column):
        names = (value, custom.field.choice_label(value, "en"), custom.field.choice_label(value, "zh"))
        if folded in (name.casefold() for name in names):
            return value
    return None


def bulk_settable_custom(column: Any) -> bool:
    """A custom field bulk "set field" may change: any but a long text or an encrypted amount and its band."""
    sealed = column.name.endswith("_band") and isinstance(
        getattr(column.table.columns.get(column.name[:-5]), "type", None), EncryptedAmount)
    return is_custom(column) and not sealed and not isinstance(column.type, (Text, EncryptedAmount))


class LinkField(AjaxRelatedField):
    """A link:<table> field: the linked row chosen by AJAX search as the related selects, stored as its id."""

    def process_data(self, value: Any) -> None:
        self.data = db.session.get(self.model, value) if isinstance(value, int) else value

    def populate_obj(self, obj: Any, name: str) -> None:
        setattr(obj, name, self.pk_of(self.data) if self.data is not None else None)


def link_target(column: Any) -> type | None:
    """The model a link:<table> custom field points at, else None."""
    custom = column.info.get("custom")
    link = custom.field.link_table if custom is not None and custom.field else None
    return next((m.class_ for m in Model.registry.mappers if m.local_table.name == link), None) if link else None


def link_field(label: Any, column: Any, endpoint: str, required: bool) -> LinkField:
    return LinkField(label, model=link_target(column), endpoint=endpoint, allow_blank=not required)


def link_formatter(target: type):
    """Shows a linked row by its name; the page's ids are read in one query first (`prepare`)."""
    names: dict[Any, str] = {}

    def show(value: Any) -> Any:
        return names.get(value, show_value(value)) if value is not None else show_value(value)

    def prepare(values: list[Any]) -> None:
        names.clear()
        keys = [v for v in set(values) if isinstance(v, int)]
        if keys:
            pk = inspect(target).primary_key[0]
            names.update({getattr(row, pk.key): option_label(row)
                          for row in db.session.scalars(select(target).where(pk.in_(keys)))})

    show.prepare = prepare  # type: ignore[attr-defined]
    return show
