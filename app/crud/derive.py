"""Derive a FAB model view's configuration from its SQLAlchemy model (low-code).

A screen gets readable list columns, search on every text column, filters on
choices/dates/numbers, form fields with validators matching the database
(lengths, required, formats, non-negative amounts, documented values) and
AJAX selects for every foreign key. A view asks for it at its class,
`@derived_from(Customer)`, and declares only what differs: a declared attribute
is kept. `flask --app run crm describe-view Customers` prints the result.
"""
from __future__ import annotations

import re
from functools import partial
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import Boolean, DateTime, Numeric, String, Text, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import RelationshipProperty
from flask import g, has_request_context
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms import validators as v

from app.models.choices import CHOICE_COLUMNS
from app.crud.datamodel import CrmInterface
from app.i18n.formatting import show_value
from app.i18n.labels import choice_label, column_label, label_for, lazy_titles  # noqa: F401  (label_for: others import it from here)
from app.encryption.columns import AMOUNT_MAX, BAND_LABELS, EncryptedAmount, band_label
from app.crud.lookups import narrowing_keys
from app.crud.custom_fields import (custom_choice_field, custom_choice_filter, custom_choices, custom_formatter,
                                    custom_required, link_field, link_formatter, link_target)
from app.crud.forms import (AjaxFilterWidget, AjaxRelatedField, Amount, AmountField, FormRules, JSONField,
                            NoControlCharacters, OwnerInScope, VersionField, choice_field, datetime_field)
from app.models.crm import EMAIL_RE, PHONE_RE, Customer
from app.models.security import User
from app.models.searchable import SYSTEM_COLUMNS, title_columns  # noqa: F401  (views import it from here)

TEXT_MAX = 100_000  # TEXT is unbounded in PostgreSQL; a form post is not
NUMERIC_MAX = Decimal("9999999999999999.99")  # numeric(18, 2)

# URL of each table's screen where it differs from /<table> (the contract's URLs)
ROUTES: dict[str, str] = {"service_tickets": "/tickets"}


def route_of(table: str) -> str:
    return ROUTES.get(table, "/" + table)


def person_formatter(value: Any) -> Any:
    """A user (an owner, a leader) by their full name, not their id or username."""
    return value.get_full_name() if isinstance(value, User) else show_value(value)


def acting_user() -> Any:
    """The signed-in user: a new record's owner as the add form opens."""
    return getattr(g, "user", None) if has_request_context() else None


def users_endpoint(table: str) -> str:
    """The staff lookup of a screen (`/customers/lookup/users/`): who may list the screen may choose an owner."""
    return f"{route_of(table)}/lookup/users/"


def is_owner(column) -> bool:
    """The record's owner column (`owner_id`): chosen on the forms although the model marks it read-only
    for workflows (its default is the creator, migration 0026)."""
    return column.name == "owner_id"


def choice_formatter(values: tuple[str, ...]):
    """Shows a documented value (status, stage, ...) in the user's language."""
    def show(value: Any) -> Any:
        return choice_label(value) if value in values else show_value(value)
    return show


def _nonneg_columns(table) -> set[str]:
    found = set()
    for constraint in table.constraints:
        text = str(getattr(constraint, "sqltext", ""))
        match = re.fullmatch(r"\s*(\w+)\s*>=\s*0\s*", text)
        if match:
            found.add(match.group(1))
    return found


def column_validators(table, column) -> list:
    """Validators that refuse what the database would refuse for this column."""
    required = not column.nullable and column.server_default is None or custom_required(column)
    # a yes/no box unticked is "no", not a missing answer
    checks: list = [v.DataRequired() if required and not isinstance(column.type, Boolean) else v.Optional()]
    kind = column.type
    if isinstance(kind, EncryptedAmount):  # the database cannot check a ciphertext: the form does
        checks.append(Amount(Decimal(0), AMOUNT_MAX, kind.impl.scale))
    elif isinstance(kind, String):  # TEXT and VARCHAR without a length are unbounded in PostgreSQL
        checks += [v.Length(max=kind.length or TEXT_MAX), NoControlCharacters()]
    elif isinstance(kind, Numeric):
        low = Decimal(0) if column.name in _nonneg_columns(table) else -NUMERIC_MAX
        checks.append(Amount(low, NUMERIC_MAX, kind.scale))
    if column.name == "email":
        checks.append(v.Regexp(EMAIL_RE, message=_l("Not a valid email address.")))
    if column.name == "phone":
        checks.append(v.Regexp(PHONE_RE, message=_l("Not a valid phone number (digits, spaces, + ( ) - . /).")))
    return checks


def api_validators(table, columns: list[str]) -> dict[str, FormRules]:
    """The REST API's validators for `columns` of a table: the forms' rules, and the documented values."""
    found = {}
    for name in columns:
        if name not in table.columns:
            continue  # a relationship: checked by the API itself (CrmRestApi.missing_related)
        checks = column_validators(table, table.columns[name])
        choices = CHOICE_COLUMNS.get((table.name, name)) or custom_choices(table.columns[name])
        if choices:
            checks.append(v.AnyOf(choices))
        found[name] = FormRules(checks)
    return found


def band_filter_field(label: str) -> SelectField:
    """Filter input for a band column: a dropdown of the bands, not a bare number."""
    return SelectField(label, choices=[(str(i), text) for i, text in enumerate(BAND_LABELS)],
                       widget=Select2Widget())


def encrypted_and_bands(table) -> tuple[set[str], set[str]]:
    """Names of the encrypted columns of a table, and of their band columns."""
    encrypted = {c.name for c in table.columns if isinstance(c.type, EncryptedAmount)}
    return encrypted, {f"{name}_band" for name in encrypted if f"{name}_band" in table.columns}


def sortable(column: Any) -> bool:
    """Whether the list may sort by the column: the models' own are indexed for it (migration 0010); a custom
    field only when a B-tree leads with it (a long text, a yes/no or a DBA's unindexed column is not)."""
    custom = column.info.get("custom")
    return custom is None or custom.sortable


def derive(model: type) -> dict[str, Any]:
    """FAB ModelView attributes for `model`."""
    mapper = inspect(model)
    table = mapper.local_table
    pk = {c.name for c in table.primary_key.columns}
    many_to_one: dict[str, RelationshipProperty] = {}
    for rel in mapper.relationships:
        if rel.direction.name == "MANYTOONE":
            for local in rel.local_columns:
                many_to_one[local.name] = rel

    # a related field narrowed by another one of the form: an activity's contact by its customer
    in_form = {rel.key for name, rel in many_to_one.items()
               if not table.columns[name].info.get("read_only") or is_owner(table.columns[name])}
    list_columns, form_columns, search_columns, labels = [], [], [], {}
    validators: dict[str, list] = {}
    extra_fields: dict[str, Any] = {}
    encrypted, bands = encrypted_and_bands(table)
    search_fields: dict[str, Any] = {}
    descriptions: dict[str, str] = {}
    user_relations: set[str] = set()
    for column in table.columns:
        name = column.name
        labels[name] = column_label(table.name, name)
        if name in pk:
            continue
        if column.info.get("read_only") and not is_owner(column):  # written by a workflow (e.g. lead conversion), shown only
            if name in many_to_one:
                labels[many_to_one[name].key] = column_label(table.name, many_to_one[name].key)
            continue
        if name in many_to_one:
            rel = many_to_one[name]
            target = rel.mapper.class_
            labels[rel.key] = column_label(table.name, rel.key)
            form_columns.append(rel.key)
            list_columns.append(rel.key)
            search_columns.append(rel.key)
            staff = target is User
            endpoint = users_endpoint(table.name) if staff else f"{route_of(target.__tablename__)}/lookup/"
            narrow = () if staff else narrowing_keys(model, rel.key, in_form)
            extra_fields[rel.key] = AjaxRelatedField(labels[rel.key], [OwnerInScope(table.name)] if is_owner(column)
                                                     else None, model=target, endpoint=endpoint,
                                                     allow_blank=column.nullable, narrow=narrow,
                                                     default=acting_user if is_owner(column) else None)
            if staff:
                user_relations.add(rel.key)
            if staff or target.__module__ == Customer.__module__:  # every related filter is an AJAX select
                # the owner's "is in team" filter picks a team (the screen's /lookup/teams/)
                teams = (route_of(table.name), f"{route_of(table.name)}/lookup/teams/") if is_owner(column) else None
                search_fields[rel.key] = AjaxRelatedField(labels[rel.key], model=target, endpoint=endpoint,
                                                          widget=partial(AjaxFilterWidget, teams=teams))
            continue
        if name in encrypted:
            # ciphertext: the database can neither compare nor sort it; the band can
            descriptions[name] = _l("Stored encrypted. To sort or filter by size, use %(band)s "
                                    "(order of magnitude).", band=column_label(table.name, name + "_band"))
        elif name in bands:
            search_fields[name] = band_filter_field(labels[name])
            search_columns.append(name)
            list_columns.append(name)
            continue
        else:
            search_columns.append(name)
        if name in SYSTEM_COLUMNS:
            continue
        form_columns.append(name)
        if not isinstance(column.type, Text):
            list_columns.append(name)
        choices = CHOICE_COLUMNS.get((table.name, name))
        if choices:
            extra_fields[name] = choice_field(labels[name], choices, required=not column.nullable)
        elif custom_choices(column):
            extra_fields[name] = custom_choice_field(labels[name], column, custom_required(column))
            search_fields[name] = custom_choice_filter(labels[name], column)
        elif link_target(column) is not None:  # link:<table>: an AJAX select like the related rows
            extra_fields[name] = link_field(labels[name], column, f"{route_of(link_target(column).__tablename__)}"
                                            "/lookup/", custom_required(column))
        elif isinstance(column.type, JSONB):
            extra_fields[name] = JSONField(labels[name], [v.InputRequired()])
        elif isinstance(column.type, DateTime):
            extra_fields[name] = datetime_field(labels[name], column_validators(table, column))
        elif isinstance(column.type, (EncryptedAmount, Numeric)):  # grouped as shown: "12,500,000.50"
            extra_fields[name] = AmountField(labels[name], column_validators(table, column),
                                             description=descriptions.get(name))
        else:
            validators[name] = column_validators(table, column)
    list_columns.append("updated_at") if "updated_at" in table.columns else None
    edit_extra = dict(extra_fields)
    edit_columns = list(form_columns)
    if "version" in table.columns:
        edit_extra["version"] = VersionField(model)
        edit_columns.append("version")
    formatters = {c.name: band_label if c.name in bands else show_value for c in table.columns}
    formatters.update(dict.fromkeys(user_relations, person_formatter))
    for (choice_table, name), values in CHOICE_COLUMNS.items():
        if choice_table == table.name:
            formatters[name] = choice_formatter(values)
    formatters.update({c.name: custom_formatter(c) for c in table.columns if custom_choices(c)})
    formatters.update({c.name: link_formatter(link_target(c)) for c in table.columns if link_target(c)})
    return {
        "route_base": route_of(table.name),
        **lazy_titles(model),
        "formatters_columns": formatters,
        "list_columns": list_columns[:8],
        "show_columns": [c.name for c in table.columns if c.name not in many_to_one and c.name != "version"]
        + [r.key for r in many_to_one.values()],
        "add_columns": form_columns,
        "edit_columns": edit_columns,
        "search_columns": search_columns,
        "order_columns": [c for c in list_columns  # JSON documents have no useful order
                          if c not in {r.key for r in many_to_one.values()} | encrypted
                          and not isinstance(table.columns[c].type, JSONB) and sortable(table.columns[c])],
        "description_columns": descriptions,
        "search_form_extra_fields": search_fields,
        "label_columns": labels,
        "validators_columns": validators,
        "add_form_extra_fields": extra_fields,
        "edit_form_extra_fields": edit_extra,
    }


# what derived_from fills in (datamodel, then derive()'s keys), in this order
DERIVED_ATTRIBUTES = (
    "datamodel", "route_base", "list_title", "show_title", "add_title", "edit_title",
    "formatters_columns", "list_columns", "show_columns", "add_columns", "edit_columns",
    "search_columns", "order_columns", "description_columns", "search_form_extra_fields",
    "label_columns", "validators_columns", "add_form_extra_fields", "edit_form_extra_fields",
)


def derive_view(view: type, model: type, interface: type = CrmInterface) -> type:
    """Set `view.model` and fill each attribute of DERIVED_ATTRIBUTES the class does not declare itself.

    `view.derived_attributes` names those filled in (the others the view declared).
    """
    derived = {"datamodel": interface(model), **derive(model)}
    view.model = model
    view.derived_attributes = tuple(key for key in derived if key not in view.__dict__)
    for key in view.derived_attributes:
        setattr(view, key, derived[key])
    return view


def rederive_view(view: type) -> None:
    """Derive a view's derived attributes again (its model's columns changed: app/fields/reflect.py)."""
    derived = {"datamodel": type(view.datamodel)(view.model), **derive(view.model)}
    for key in view.derived_attributes:
        setattr(view, key, derived[key])


def derived_from(model: type, interface: type = CrmInterface) -> Callable[[type], type]:
    """Class decorator: `@derived_from(Customer)` configures the view from the model (derive_view)."""
    return lambda view: derive_view(view, model, interface)
