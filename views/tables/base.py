"""CrmModelView: a FAB ModelView whose configuration is derived from its model."""
from __future__ import annotations

from typing import Any

from flask import g, jsonify, redirect, request
from flask_babel import gettext as _
from flask_appbuilder import ModelView, expose
from flask_appbuilder.security.decorators import has_access_api, permission_name
from sqlalchemy import or_, select

from app.crud.datamodel import CrmInterface
from app.crud.forms import AjaxRelatedField, local_path
from app.extensions import db
from app.crud.derive import derive, title_columns
from app.search.text import like_pattern
from views.mixins.actions import ActionGuardMixin
from views.mixins.history import HistoryMixin
from views.mixins.csv_tools import ExportMixin
from views.mixins.paging import KeysetPagingMixin
from views.widgets.filter_form import CachedSearchWidget

LOOKUP_LIMIT = 20


class CrmModelView(ActionGuardMixin, ExportMixin, HistoryMixin, KeysetPagingMixin, ModelView):
    """Subclasses set `model`; everything not set explicitly is derived from it."""

    model: type | None = None
    interface: type = CrmInterface  # the datamodel class
    page_size = 25
    search_widget = CachedSearchWidget

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("model") is None:
            return
        cls.datamodel = cls.interface(cls.model)
        for key, value in derive(cls.model).items():
            if key not in cls.__dict__:
                setattr(cls, key, value)

    @property
    def database_error_message(self) -> str:  # type: ignore[override]
        return g.get("crm_db_error") or _("The database refused the change; nothing was saved.")

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
