"""Form fields and validators shared by every CRM screen."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Iterable

from flask import flash, request
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, DateTimePickerWidget, Select2Widget
from flask_babel import lazy_gettext as _
from markupsafe import Markup, escape
from marshmallow import ValidationError as MarshmallowValidationError
from wtforms import DateTimeField, Field, HiddenField, SelectField, TextAreaField
from wtforms.widgets import html_params
from wtforms.validators import InputRequired, Optional, StopValidation, ValidationError

from app.crud.lookups import option_label, outside_choice
from app.lists.links import arg_index
from app.lists.scope import may_own
from app.models.ownership import Team
from app.extensions import db
from app.i18n.formatting import amount_text
from app.i18n.labels import choice_label
from app.i18n.numbers import parse_amount


def local_path(target: str | None) -> str | None:
    """`target` when it is a path on this site (no scheme, host or protocol-relative URL), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 32 for c in target):
        return None
    return target


class NoControlCharacters:
    """Refuse NUL and other control characters PostgreSQL or the UI cannot hold."""

    pattern = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

    def __call__(self, form: Any, field: Field) -> None:
        if isinstance(field.data, str) and self.pattern.search(field.data):
            raise ValidationError(_("Contains control characters that cannot be stored."))


class KnownChoices:
    """Refuse a multiple select's unknown ids; FAB's field drops them silently and saves the rest.

    (Its pre_validate looks for unknown ids before it has parsed the form data, so a
    garbled post would empty a role's permissions.)
    """

    def __call__(self, form: Any, field: Field) -> None:
        field.data  # parses the posted ids; marks unknown ones
        if getattr(field, "_invalid_formdata", False):
            raise StopValidation(_("Not a valid choice"))


class AjaxSelectWidget:
    """A <select> filled on demand by select2 from the related screen's lookup URL."""

    def __init__(self, endpoint: str, narrow: tuple[str, ...] = ()) -> None:
        self.endpoint = endpoint
        self.narrow = narrow  # fields of the same form whose choice narrows this one (crm.js)

    def __call__(self, field: "AjaxRelatedField", **kwargs: Any) -> Markup:
        selected = field.data
        option = ""
        if selected is not None:
            option = f'<option value="{escape(field.pk_of(selected))}" selected>{escape(option_label(selected))}</option>'
        # select2's own texts, in the user's language (read by crm.js)
        texts = html_params(**{"data-placeholder": _("Type to search"), "data-searching": _("Searching…"),
                               "data-no-results": _("No matches"),
                               "data-error-loading": _("The results could not be loaded.")})
        return Markup(
            f'<select id="{escape(field.id)}" name="{escape(field.name)}" '
            f'class="form-control crm-ajax-select" data-endpoint="{escape(self.endpoint)}" '
            f'{texts} data-allow-clear="{str(field.allow_blank).lower()}" data-narrow="{escape(",".join(self.narrow))}">'
            f'<option value=""></option>{option}</select>'
        )


class AjaxFilterWidget(AjaxSelectWidget):
    """The related-row filter of a list: AJAX like the forms, never a dropdown of the whole table.

    FAB's filter for a related column renders every row of the related table into
    a <select>. This one starts empty and offers only the rows already filtered on
    (read from the list's `_flt_<n>_<column>` arguments) so the active filters show
    their names. The owner's filter "is in team" (`teams`: the screen's route and its
    team lookup) picks a team: crm.js searches teams while that operation is chosen.
    """

    def __init__(self, endpoint: str, narrow: tuple[str, ...] = (), teams: tuple[str, str] | None = None) -> None:
        super().__init__(endpoint, narrow)
        self.teams = teams

    def __call__(self, field: "AjaxRelatedField", **kwargs: Any) -> Markup:
        pattern = re.compile(rf"_flt_(\d+)_{re.escape(field.name)}")
        team_op = arg_index(self.teams[0], field.name, "team") if self.teams else None
        keys: dict[bool, set[int]] = {True: set(), False: set()}  # in team? -> ids filtered on
        for name in request.args:
            found = pattern.fullmatch(name)
            if found:
                keys[int(found.group(1)) == team_op].update(
                    int(v) for v in request.args.getlist(name) if v.isdigit() and len(v) < 10)
        options = "".join(self._options(field.model, keys[False], "row"))
        attrs = {"data-endpoint": self.endpoint, "data-placeholder": _("Type to search")}
        if team_op is not None:
            options += "".join(self._options(Team, keys[True], "team"))
            attrs.update({"data-team-op": str(team_op), "data-team-endpoint": self.teams[1]})
        return Markup(f'<select id="{escape(field.id)}" name="{escape(field.name)}" '
                      f'class="form-control crm-ajax-select" {html_params(**attrs)}>{options}</select>')

    @staticmethod
    def _options(model: type, keys: set[int], kind: str) -> Iterable[str]:
        """The <option>s of the rows filtered on; `kind` tells a team from a user of the same id (crm.js)."""
        if not keys:
            return ()
        pk = db.inspect(model).primary_key[0]
        return (f'<option value="{escape(db.inspect(row).identity[0])}" data-kind="{kind}">'
                f'{escape(option_label(row) if model is not Team else row.name)}</option>'
                for row in db.session.scalars(db.select(model).where(pk.in_(keys))))


class AjaxRelatedField(Field):
    """A many-to-one field that holds one related row, chosen by AJAX search.

    Unlike FAB's QuerySelectField it never loads the related table; the
    posted primary key is parsed and looked up, and a missing row is a form error.
    """

    def __init__(self, label=None, validators=None, *, model: type, endpoint: str,
                 allow_blank: bool = True, widget: type = AjaxSelectWidget, narrow: tuple[str, ...] = (),
                 **kwargs: Any) -> None:
        if not allow_blank:
            validators = [InputRequired(), *(validators or [])]  # also marks the label as required
        super().__init__(label, validators, widget=widget(endpoint, narrow) if narrow else widget(endpoint),
                         **kwargs)
        self.model = model
        self.allow_blank = allow_blank
        self.narrow = narrow  # the form's fields whose chosen row this one's row must belong to
        self._invalid = False

    def pk_of(self, obj: Any) -> Any:
        return db.inspect(obj).identity[0]

    def process_formdata(self, valuelist: list[str]) -> None:
        self._invalid = False
        raw = (valuelist[0] if valuelist else "").strip()
        if not raw:
            self.data = None
            return
        if not raw.isdigit() or len(raw) > 10:
            self.data, self._invalid = None, True
            return
        self.data = db.session.get(self.model, int(raw))
        self._invalid = self.data is None

    def pre_validate(self, form: Any) -> None:
        if self._invalid:
            raise ValidationError(_("The selected record does not exist."))
        if self.data is None and not self.allow_blank:
            raise ValidationError(_("This field is required."))
        for key in self.narrow:  # the browser narrows the choice; a crafted post must not step outside it
            parent = form._fields.get(key)
            if parent is None or getattr(parent, "_invalid", False):
                continue
            message = outside_choice(self.data, self.label.text, key, parent.data, parent.label.text)
            if message:
                raise ValidationError(message)


class OwnerInScope:
    """The owner chosen must be one the user may give records to: the row-level policies would refuse the
    write (a rep gives nothing away; a manager within the team), and the user could no longer see the record."""

    def __init__(self, table: str) -> None:
        self.table = table

    def __call__(self, form: Any, field: Any) -> None:
        if getattr(field, "_invalid", False):
            return  # pre_validate has said so
        owner = field.data
        if not may_own(self.table, field.pk_of(owner) if owner is not None else None):
            raise ValidationError(
                _("Choose an owner: a record without one is seen only by those who see all records.")
                if owner is None else
                _("%(user)s's records are outside your data scope: you cannot give this record to them.",
                  user=option_label(owner)))


def choice_field(label: str, values: tuple[str, ...], required: bool = True) -> SelectField:
    """A dropdown of the documented values; anything else is a form error. Optional: a blank first choice
    (stored as NULL, as blank optional text is)."""
    choices = [(v, choice_label(v)) for v in values]
    if required:
        return SelectField(label, [InputRequired()], choices=choices, widget=Select2Widget(), default=values[0],
                           validate_choice=True)
    return SelectField(label, [Optional()], choices=[("", "—"), *choices], widget=Select2Widget(), default="",
                       validate_choice=True)


class VersionField(HiddenField):
    """The row version the edit form was opened with (optimistic locking).

    Never written to the model: SQLAlchemy's version counter does that. On
    submit it is compared with the row's current version; a stale form is refused.
    """

    def __init__(self, model: type, **kwargs: Any) -> None:
        super().__init__(validators=[self._not_stale], **kwargs)
        self.model = model
        self.type = "HiddenField"  # FAB's form templates render fields of this type hidden

    def populate_obj(self, obj: Any, name: str) -> None:
        pass

    def _not_stale(self, form: Any, field: Field) -> None:
        pk = (request.view_args or {}).get("pk")
        current = db.session.get(self.model, int(pk)) if pk and str(pk).isdigit() else None
        if current is None:
            return
        if str(field.data or "") != str(current.version):
            message = _(
                "Someone else saved this record after you opened it. "
                "Your changes were not saved: reload the page to see the current values."
            )
            flash(message, "danger")
            raise ValidationError(message)


class JSONField(TextAreaField):
    """A JSON document edited as text; invalid JSON is a form error, not a 500."""

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return json.dumps(self.data, ensure_ascii=False, indent=2) if self.data is not None else ""

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = (valuelist[0] if valuelist else "").strip()
        if not raw:
            self.data = None
            return
        try:
            self.data = json.loads(raw)
        except ValueError as exc:
            self.data = None
            raise ValueError(_("Not valid JSON: %(error)s", error=str(exc))) from exc
        except RecursionError as exc:
            self.data = None
            raise ValueError(_("The JSON body is nested too deeply.")) from exc
        if not isinstance(self.data, dict):
            self.data = None
            raise ValueError(_("Report data must be a JSON object ({...})."))


class Amount:
    """A finite decimal within the column's range and scale (NaN/Infinity/overflow/1.234 are refused, not rounded)."""

    def __init__(self, minimum: Decimal, maximum: Decimal, places: int | None = None) -> None:
        self.minimum, self.maximum, self.places = minimum, maximum, places

    def __call__(self, form: Any, field: Field) -> None:
        value = field.data
        if value is None:
            return
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = Decimal(str(value))
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValidationError(_("Enter a number."))
        if not self.minimum <= value <= self.maximum:
            raise ValidationError(_("Enter a number between %(lo)s and %(hi)s.",
                                    lo="{:,}".format(self.minimum), hi="{:,}".format(self.maximum)))
        if self.places is not None and -value.as_tuple().exponent > self.places:
            raise ValidationError(_("At most %(n)s decimal places.", n=self.places))


class AmountField(Field):
    """An amount typed as the app shows it ('12,500,000.50', app/i18n/numbers.py) and shown grouped.

    The CSV import reads its amount cells through this field too: one rule.
    """

    widget = BS3TextFieldWidget()

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else amount_text(self.data)

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        try:
            self.data = parse_amount(valuelist[0])
        except ValueError:
            self.data = None
            raise ValueError(_("Enter an amount such as 12,500,000 or 12,500,000.50.")) from None

    def __call__(self, **kwargs: Any) -> Markup:
        kwargs.setdefault("inputmode", "decimal")
        return super().__call__(**kwargs)


class _Received:
    """What a WTForms validator reads of a field, holding a value the API received."""

    def __init__(self, value: Any) -> None:
        self.data = value
        self.raw_data = [value if isinstance(value, str) else str(value)]
        self.errors: list[str] = []

    @staticmethod
    def gettext(message: str) -> str:
        return message

    @staticmethod
    def ngettext(singular: str, plural: str, n: int) -> str:
        return singular if n == 1 else plural


class FormRules:
    """A marshmallow validator that applies a column's form validators to an API value.

    The forms' rules (app.crud.derive.column_validators) are the one rule set: the
    API refuses exactly what the forms refuse, with the forms' messages.
    """

    def __init__(self, validators: list) -> None:
        self.validators = validators

    def __repr__(self) -> str:
        """What the API's _info shows: the rules by name (FAB lists each validator as text)."""
        return "<FormRules " + ", ".join(type(check).__name__ for check in self.validators) + ">"

    def __call__(self, value: Any) -> None:
        field = _Received(value)
        for validator in self.validators:
            try:
                validator(None, field)
            except StopValidation as exc:  # Optional() on an empty value ends the chain, without message
                if exc.args and exc.args[0]:
                    raise MarshmallowValidationError(str(exc.args[0])) from None
                return
            except ValidationError as exc:
                raise MarshmallowValidationError(str(exc)) from None


class DateTimeInput(DateTimePickerWidget):
    """FAB's date-time picker, showing the field's formatted value.

    FAB's widget prints the raw datetime, microseconds included, which its own
    field then refuses on submit: a record could not be re-saved unchanged.
    """

    def __call__(self, field: Field, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        kwargs.setdefault("name", field.name)
        return Markup(self.data_template % {"text": html_params(type="text", value=field._value(), **kwargs)})


def datetime_field(label: str, validators: list) -> DateTimeField:
    """Seconds are enough for a CRM; also accepts minutes or a bare date when typed by hand."""
    return DateTimeField(label, validators, format=["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
                         widget=DateTimeInput())
