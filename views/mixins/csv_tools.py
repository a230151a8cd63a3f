"""CSV on the list screens: "Export CSV" on every list (CrmModelView.export), "Import CSV" on customers,
contacts and leads (ImportMixin)."""
from __future__ import annotations

from typing import Any

from flask import Response, flash, g, redirect, request, stream_with_context, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_appbuilder.widgets import RenderTemplateWidget
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from app.audit import record as audit_log
from app.csv_io import uploads
from app.csv_io.export import csv_stream, export_columns, export_query, filename
from app.csv_io.imports import Importer
from app.csv_io.reading import ENCODING_LABELS, FileProblem
from app.crud.refusals import friendly
from app.extensions import db
from app.i18n.translations import gettext as _  # the request's translations looked up once
from app.lists.selection import list_filters, list_order

SHOWN_PROBLEMS = 1000  # a report page lists this many; the counts say how many in all


class CsvToolsWidget(RenderTemplateWidget):
    template = "crm/csv_tools.html"


def csv_tools(view: Any) -> Markup:
    """The list page's "Export CSV" / "Import CSV" buttons, for the user's permissions (crm/list.html)."""
    name = view.class_permission_name
    can = view.appbuilder.sm.has_access
    query = request.query_string.decode("latin-1")
    return Markup(CsvToolsWidget(
        export_url=(url_for(f"{view.endpoint}.export") + (f"?{query}" if query else ""))
        if "can_export" in view.base_permissions and can("can_export", name) else None,
        import_url=url_for(f"{view.endpoint}.import_csv")
        if "can_import" in view.base_permissions and can("can_import", name) else None)())


def export_csv(view: Any) -> Response:
    """The list of `view` as this request's arguments filter and order it, as a streamed CSV file."""
    order_column, order_direction = list_order(view, request.args)
    filters = view.with_quick_search(list_filters(view, request.args))  # the list's _flt_* and ?q=
    columns = export_columns(view.datamodel.obj, view.label_columns)
    query = export_query(view.datamodel, filters, order_column, order_direction, columns)
    table = view.datamodel.obj.__tablename__
    audit = {"table": table, "order": [order_column, order_direction],
             "filters": [[f.column_name, str(f.name), value] for f, value in filters.get_filters_values()]}
    body = stream_with_context(csv_stream(query, columns, audit))
    return Response(body, mimetype="text/csv", headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{filename(table)}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


class ImportMixin:
    """<list>/import/: upload, dry-run report (row, column, error), then confirm (can_import)."""

    import_template = "crm/import.html"

    def _importer(self) -> Importer:
        return Importer(self)

    def _render_import(self, status: int = 200, **context: Any):
        importer = self._importer()
        page = self.render_template(
            self.import_template, title=_("Import %(what)s from CSV", what=self.list_title),
            targets=importer.targets, encodings=ENCODING_LABELS, max_mb=uploads.max_bytes() // 2**20,
            list_url=url_for(f"{self.endpoint}.list"), upload_url=url_for(f"{self.endpoint}.import_csv"),
            shown=SHOWN_PROBLEMS, **context)
        return page, status

    @expose("/import/", methods=["GET", "POST"])
    @has_access
    @permission_name("import")
    def import_csv(self):
        if request.method == "GET":
            return self._render_import()
        limit = uploads.max_bytes()
        request.max_content_length = limit + 64 * 1024  # the form's other fields and multipart framing
        too_large = _("The file is larger than the limit of %(mb)s MB: split it into several files.",
                      mb=limit // 2**20)
        try:
            upload = request.files.get("file")
        except RequestEntityTooLarge:
            return self._render_import(413, error=too_large)
        encoding = request.form.get("encoding", "auto")
        if upload is None or not upload.filename:
            return self._render_import(400, error=_("Choose a CSV file to upload."))
        data = upload.read(limit + 1)
        if len(data) > limit:
            return self._render_import(413, error=too_large)
        try:
            result = self._importer().check(data, encoding)
        except FileProblem as exc:
            return self._render_import(400, error=str(exc), filename=upload.filename)
        token = None
        if result.ok and result.rows:
            token = uploads.save(g.user.user_id, self.datamodel.obj.__tablename__, upload.filename,
                                 result.encoding, Importer.pack(result))
        db.session.commit()
        return self._render_import(200, result=result, filename=upload.filename, token=token)

    @expose("/import/<token>", methods=["POST"])
    @has_access
    @permission_name("import")
    def import_confirm(self, token: str):
        table = self.datamodel.obj.__tablename__
        upload = uploads.claim(token, g.user.user_id, table)
        if upload is None:
            db.session.rollback()
            flash(_("This file was already imported, or its check has expired: upload it again."), "warning")
            return redirect(url_for(f"{self.endpoint}.import_csv"))
        name, importer = upload.filename, self._importer()
        try:
            result = importer.unpack(upload.content)  # related rows are checked again, and locked
            if not result.ok:
                db.session.rollback()
                return self._render_import(409, result=result, filename=name, token=None)
            importer.insert(result.rows)
            audit_log.record("import", {"table": table, "file": name, "rows": len(result.rows),
                                        "encoding": result.encoding}, table=table, commit=False)
            db.session.delete(upload)
            db.session.commit()
        except SQLAlchemyError as exc:
            db.session.rollback()
            return self._render_import(409, error=_("Nothing was imported: %(why)s", why=friendly(exc)),
                                       filename=name)
        flash(_("Imported %(n)s rows from %(file)s.", n=f"{len(result.rows):,}", file=name), "success")
        return redirect(url_for(f"{self.endpoint}.list"))

