"""CrmModelView: a FAB ModelView whose configuration is derived from its model (`@derived_from`)."""
from __future__ import annotations

import sys

from flask import jsonify, redirect, request
from flask_babel import gettext as _
from flask_appbuilder import ModelView, expose
from flask_appbuilder.security.decorators import has_access_api, permission_name
from sqlalchemy import or_, select

from app.crud.datamodel import UserFacingError
from app.crud.forms import AjaxRelatedField, local_path
from app.extensions import db
from app.crud.derive import title_columns
from app.search.text import like_pattern
from views.mixins.actions import ActionGuardMixin
from views.mixins.history import HistoryMixin
from views.mixins.csv_tools import ExportMixin
from views.mixins.paging import KeysetPagingMixin
from views.widgets.filter_form import CachedSearchWidget

LOOKUP_LIMIT = 20


class CrmModelView(ActionGuardMixin, ExportMixin, HistoryMixin, KeysetPagingMixin, ModelView):
    """A FAB ModelView configured from its model by the decorator at its class.

    `@derived_from(Customer)` (app/crud/derive.py) sets `model` and fills in, unless the
    class declares it itself: datamodel (a CrmInterface), route_base, list_title,
    show_title, add_title, edit_title, formatters_columns, list_columns, show_columns,
    add_columns, edit_columns, search_columns, order_columns, description_columns,
    search_form_extra_fields, label_columns, validators_columns, add_form_extra_fields,
    edit_form_extra_fields. `flask --app run crm describe-view Customers` prints them.
    """

    model: type | None = None
    derived_attributes: tuple[str, ...] = ()  # those filled in by derived_from
    page_size = 25
    search_widget = CachedSearchWidget

    @property
    def database_error_message(self) -> str:  # type: ignore[override]
        """The refusal's own message: FAB's edit reads this in the `except` block of the datamodel's error."""
        handled = sys.exception()
        if isinstance(handled, UserFacingError):  # raised by CrmInterface.edit with a readable message
            return str(handled)
        return _("The database refused the change; nothing was saved.")

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        """`add?customer=5` opens the form with that customer selected (e.g. a quick-add on a customer's page)."""
        if request.method == "GET":
            for field in form:
                raw = request.args.get(field.name, "")
                if isinstance(field, AjaxRelatedField) and raw:
                    field.process_formdata([raw])
        return super()._get_add_widget(form, exclude_cols=exclude_cols, widgets=widgets)

    def post_add_redirect(self):
        """`add?next=/customers/show/5` returns there after saving (only a path on this site)."""
        target = local_path(request.args.get("next"))
        return redirect(target) if target else super().post_add_redirect()

    @expose("/lookup/")
    @has_access_api
    @permission_name("list")
    def lookup(self):
        """Up to 20 rows matching ?q=, for AJAX selects (select2's JSON shape)."""
        model = self.model
        pk = self.datamodel.get_pk_name()
        pk_col = getattr(model, pk)
        query = (request.args.get("q") or "").strip()[:100]
        stmt = select(model)
        if query:
            pattern = like_pattern(query)
            conditions = [getattr(model, c).ilike(pattern, escape="\\") for c in title_columns(model)]
            if query.isdigit() and len(query) < 10:
                conditions.append(pk_col == int(query))
            stmt = stmt.where(or_(*conditions))
        rows = db.session.scalars(stmt.order_by(pk_col).limit(LOOKUP_LIMIT)).all()
        results = [{"id": getattr(r, pk), "text": f"{r} (#{getattr(r, pk)})"} for r in rows]
        return jsonify(results=results)
