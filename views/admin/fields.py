"""The custom fields screen (admins): the catalogue, adding a field, removing, restoring, purging.

Rules and DDL live in app/fields/; this only reads the form and renders.
"""
from __future__ import annotations

from flask import abort, flash, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.fields import changes
from app.fields.catalog import CRM_TABLES, all_fields
from app.fields.rules import WIDENINGS, FieldError, FieldSpec, check_table
from app.fields.usage import listed
from app.models.custom_field import FIELD_TYPES
from views.admin.form_screen import FormScreen, action

TABLE_LABELS = {"customers": _l("Customers"), "contacts": _l("Contacts"), "leads": _l("Leads"),
                "opportunities": _l("Opportunities"), "activities": _l("Activities"),
                "service_tickets": _l("Service tickets")}
TYPE_LABELS = {"text": _l("Text"), "long_text": _l("Long text"), "number": _l("Number"), "amount": _l("Amount"),
               "date": _l("Date"), "datetime": _l("Date and time"), "boolean": _l("Yes/no"),
               "choice": _l("Choice"), "link": _l("Link to")}
BLANK = {"table_name": "customers", "column_name": "", "field_type": "text", "link_table": "customers",
         "label_en": "", "label_zh": "", "choices": "", "required": False, "financial": False}


def spec_from(form: dict) -> FieldSpec:
    """The form's field; a link's type names its table."""
    field_type = f"link:{form['link_table']}" if form["field_type"] == "link" else form["field_type"]
    return FieldSpec(form["table_name"], form["column_name"].strip(), field_type, form["label_en"],
                     form["label_zh"], form["choices"].splitlines(), form["required"], form["financial"])


class FieldsView(FormScreen):
    route_base = "/fields"
    template = "crm/fields.html"
    title = _l("Custom fields")
    refused = (FieldError,)

    def blank(self) -> dict:
        return BLANK

    def page_values(self) -> dict:
        return dict(fields=all_fields(include_hidden=True), locale=str(get_locale() or "en"), tables=TABLE_LABELS,
                    types=TYPE_LABELS, base_types=(*FIELD_TYPES, "link"), widenings=WIDENINGS)

    def read_form(self) -> dict:
        form = {name: request.form.get(name, default) for name, default in BLANK.items() if default is not False}
        form.update(required=bool(request.form.get("required")), financial=bool(request.form.get("financial")))
        if form["field_type"] not in (*FIELD_TYPES, "link") or form["link_table"] not in CRM_TABLES:
            abort(400)  # not a value the form offers
        return form

    def create(self, form: dict):
        added = changes.add_field(spec_from(form))
        return self.done(_("Field %(name)s added to %(table)s.", name=added.column_name,
                           table=TABLE_LABELS[added.table_name]))

    def _change(self, change, table: str, column: str, message: str, used: str = ""):
        """`change(table, column)`; `used` flashes what uses the field (a list of usage.Use it returns)."""
        try:
            check_table(table)
            uses = change(table, column)
        except FieldError as exc:
            return self.page(error=str(exc), status=400)
        done = self.done(message)
        if used and uses:
            flash(used % {"uses": listed(uses)}, "warning")
        return done

    @action("/<table>/<column>/remove", "edit")
    def remove(self, table: str, column: str):
        return self._change(changes.remove_field, table, column,
                            _("Field %(name)s removed: its data is kept until it is purged.", name=column),
                            _("Still used by (they leave it out while it is removed): %(uses)s."))

    @action("/<table>/<column>/restore", "edit")
    def restore(self, table: str, column: str):
        return self._change(changes.restore_field, table, column, _("Field %(name)s restored.", name=column))

    @action("/<table>/<column>/purge", "delete")
    def purge(self, table: str, column: str):
        force = bool(request.form.get("force"))
        return self._change(lambda t, c: changes.purge_field(t, c, force=force), table, column,
                            _("Field %(name)s and its data deleted.", name=column), _("Taken out of: %(uses)s."))

    @action("/<table>/<column>/labels", "edit")
    def labels(self, table: str, column: str):
        form = request.form
        return self._change(lambda t, c: changes.relabel_field(t, c, form.get("label_en"), form.get("label_zh"),
                                                               bool(form.get("required"))),
                            table, column, _("Field %(name)s changed.", name=column))

    @action("/<table>/<column>/choices", "edit")
    def choices(self, table: str, column: str):
        raw = request.form.get("choices", "").splitlines()  # one per line: a label may hold a comma
        return self._change(lambda t, c: changes.rechoose_field(t, c, raw), table, column,
                            _("Field %(name)s changed.", name=column))

    @action("/<table>/<column>/widen", "edit")
    def widen(self, table: str, column: str):
        new_type = request.form.get("field_type", "")
        return self._change(lambda t, c: changes.widen_field(t, c, new_type), table, column,
                            _("Field %(name)s changed.", name=column))
