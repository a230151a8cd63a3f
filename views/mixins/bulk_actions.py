"""Bulk actions on a list: delete, set a field, export to CSV, on ticked rows or on all matching rows.

Ticking rows and FAB's "Actions" menu come from FAB's actions (`bulk_delete`, `bulk_set`,
`bulk_export`), whose permissions are the screen's own: `can_delete`, `can_edit`,
`can_export`. The menu leads to this mixin's pages, which carry the selection in their URL
(app/lists/selection.py): a confirmation naming the count, then one POST that
runs set-based SQL in batches, all in one transaction (app/lists/bulk.py). Each row's
change is logged by the audit triggers; one `bulk delete` / `bulk set` entry says who did
it to how many rows. "All matching" above CRM_BULK_INLINE_LIMIT rows becomes a background job
(app/lists/bulk_jobs.py) instead: the POST answers at once with the job's progress page, which
polls a small JSON endpoint; an export job ends with a download link for its user only.
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from flask import (
    Response,
    flash,
    g,
    jsonify,
    redirect,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask_appbuilder import expose
from flask_appbuilder.actions import action
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_appbuilder.widgets import RenderTemplateWidget
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import Date, DateTime, inspect
from werkzeug.exceptions import BadRequest, NotFound
from wtforms import Form

from app.audit import record as audit_log
from app.csv_io.export import csv_stream, export_columns, export_query, filename
from app.extensions import db
from app.i18n.translations import gettext as _  # the request's translations looked up once
from app.lists import bulk, bulk_exports, bulk_jobs
from app.lists.selection import carried, primary_key, selection, selects_all, ticked_ids
from app.models.choices import CHOICE_COLUMNS
from app.crud.custom_fields import bulk_settable_custom
from views.mixins.csv_tools import export_csv

BULK_PERMISSIONS = {"bulk_delete": "delete", "bulk_set": "edit", "bulk_export": "export"}
ROUTES = {"bulk_delete": "bulk_delete_rows", "bulk_set": "bulk_set_rows", "bulk_export": "bulk_export_rows"}
# Until when (epoch seconds) this browser session's lists look for its user's bulk jobs: set for an
# hour (bulk_jobs.RECENT) when the session starts or watches a job. A list is opened far more often
# than a job is started; the other list pages skip that query.
JOBS_UNTIL = "crm_bulk_jobs_until"


class BulkToolsWidget(RenderTemplateWidget):
    template = "crm/list_bulk_tools.html"


def settable_fields(view: Any) -> dict[str, str]:
    """Form field -> model attribute, for the fields a bulk "set" may change: choices, dates, related rows."""
    mapper = inspect(view.datamodel.obj)
    table = mapper.local_table
    related = {rel.key: mapper.get_property_by_column(next(iter(rel.local_columns))).key
               for rel in mapper.relationships if rel.direction.name == "MANYTOONE"}
    fields = {}
    for name in view.edit_columns:
        if name in related:
            fields[name] = related[name]
        elif name in table.columns and ((table.name, name) in CHOICE_COLUMNS
                                        or isinstance(table.columns[name].type, (Date, DateTime))
                                        or bulk_settable_custom(table.columns[name])):
            fields[name] = name
    return fields


def value_form(view: Any, field: str) -> type[Form]:
    """A form of one field, the edit form's own (the same widget and validators)."""
    return type("BulkValueForm", (Form,), {field: getattr(view.edit_form, field)})


def bulk_tools(view: Any) -> Markup:
    """The list's "select all N matching" bar and the links of the bulk actions (crm/list.html)."""
    can = view.appbuilder.sm.has_access
    allowed = {name: url_for(f"{view.endpoint}.{route}") for name, route in ROUTES.items()
               if name in view.actions and can(f"can_{BULK_PERMISSIONS[name]}", view.class_permission_name)}
    if not allowed:
        return Markup("")
    args = carried(request.args, selection=False)
    jobs = [(url_for(f"{view.endpoint}.bulk_job", job_id=job.job_id), bulk_jobs.progress(job))
            for job in watched_jobs(view)]
    return Markup(BulkToolsWidget(urls=allowed, list_args=urlencode(args, doseq=True), jobs=jobs)())


def watch_jobs() -> None:
    """This browser session's lists look for the user's bulk jobs for the next hour."""
    session[JOBS_UNTIL] = int(time.time() + bulk_jobs.RECENT.total_seconds())


def watched_jobs(view: Any) -> list:
    """The user's recent jobs on this list, if this session started or watched one in the last hour."""
    if session.get(JOBS_UNTIL, 0) < time.time():
        return []
    jobs = bulk_jobs.recent(g.user.user_id, view.endpoint)
    if any(job.status in ("queued", "running") for job in jobs):
        watch_jobs()  # still running: looked for until an hour after it ends
    return jobs


class BulkActionsMixin:
    """Bulk delete / set a field / export on a CRM list (permissions: delete, edit, export)."""

    def __init__(self, **kwargs: Any) -> None:
        # FAB's permission of each action: the screen's own (a subclass may map more actions)
        self.method_permission_name = {**BULK_PERMISSIONS, **(type(self).method_permission_name or {})}
        super().__init__(**kwargs)
        if not settable_fields(self):  # a table of text and amounts only (edited one by one)
            self.actions.pop("bulk_set", None)
        self.extra_args = {**self.extra_args, "bulk_tools": lambda: bulk_tools(self)}

    # FAB's actions: the ticking and the menu; without the page's script they go to the pages below
    @action("bulk_delete", _l("Delete selected"), "", "fa-trash", single=False)
    def bulk_delete(self, items):
        return self._to_page("bulk_delete", items)

    @action("bulk_set", _l("Set a field on selected"), "", "fa-pencil-alt", single=False)
    def bulk_set(self, items):
        return self._to_page("bulk_set", items)

    @action("bulk_export", _l("Export selected to CSV"), "", "fa-download", single=False)
    def bulk_export(self, items):
        return self._to_page("bulk_export", items)

    def _to_page(self, name: str, items: list) -> Response:
        keys = [str(db.inspect(item).identity[0]) for item in items if item is not None]
        return redirect(url_for(f"{self.endpoint}.{ROUTES[name]}", ids=",".join(keys)))

    def _what(self, n: int) -> str:
        return f"{n:,} {str(self.list_title).lower()}"

    def _page(self, kind: str, status: int = 200, **context: Any):
        background = self._as_job(context.get("count") or 0)
        return self.render_template(
            "crm/list_bulk.html", kind=kind, list_url=url_for(f"{self.endpoint}.list", **_list_args()),
            action_url=request.path + "?" + urlencode(carried(request.args), doseq=True), background=background,
            **context), status

    def _refuse_stale(self, count: int) -> Response | None:
        """The rows changed since the confirmation: say so, change nothing."""
        expected = request.form.get("expected", "")
        if expected.isdigit() and int(expected) == count:
            return None
        flash(_("The matching rows changed since you confirmed (now %(n)s); nothing was changed. Check and "
                "confirm again.", n=f"{count:,}"), "warning")
        return redirect(request.full_path)

    @expose("/bulk/delete", methods=["GET", "POST"])
    @has_access
    @permission_name("delete")
    def bulk_delete_rows(self):
        """GET: "Delete 1,234 customers?"; POST: delete them all, or none."""
        query = selection(self, request.args)
        model = self.datamodel.obj
        count = bulk.count(query, model)
        title = _("Delete %(what)s?", what=self._what(count))
        if request.method == "GET":
            return self._page("delete", title=title, count=count)
        stale = self._refuse_stale(count)
        if stale:
            return stale
        if self._as_job(count):
            return self._start_job("delete", count)
        try:
            outcome = bulk.delete_rows(db.session, query, model)
            self._log("bulk delete", outcome.rows)
            db.session.commit()
        except bulk.BulkRefused as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return self._page("delete", 409, title=title, count=count)
        flash(_("Deleted %(what)s.", what=self._what(outcome.rows)), "success")
        return redirect(url_for(f"{self.endpoint}.list", **_list_args()))

    @expose("/bulk/set", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def bulk_set_rows(self):
        """GET: pick the field, then the value; POST: set it on every selected row, or on none."""
        fields = settable_fields(self)
        if not fields:
            raise NotFound()
        field = request.values.get("field", "")
        if field and field not in fields:
            raise BadRequest(_("%(field)s cannot be set on many rows at once.", field=repr(field)))
        query = selection(self, request.args)
        model = self.datamodel.obj
        count = bulk.count(query, model)
        choices = [(name, str(self.label_columns.get(name, name))) for name in fields]
        form = value_form(self, field)(request.form if request.method == "POST" else None) if field else None
        title = _("Set a field on %(what)s", what=self._what(count))
        page = {"title": title, "count": count, "fields": choices, "field": field, "form": form}
        if request.method == "GET" or form is None:
            return self._page("set", 200 if request.method == "GET" else 400, **page)
        if not form.validate():
            return self._page("set", 400, **page)
        stale = self._refuse_stale(count)
        if stale:
            return stale
        value = form[field].data
        if field != fields[field] and value is not None:  # a related row: its key
            value = db.inspect(value).identity[0]
        try:
            # the forms' rule: an activity's contact belongs to its customer (checked on every row, first)
            bulk.refuse_disagreeing(db.session, query, model, fields[field], value, self.edit_columns)
            if self._as_job(count):
                return self._start_job("set", count, field=field, column=fields[field],
                                       value=bulk_jobs.stored_value(value))
            outcome = bulk.set_column(db.session, query, model, fields[field], value)
            self._log("bulk set", outcome.rows, field=fields[field], value=value)
            db.session.commit()
        except bulk.BulkRefused as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return self._page("set", 409, **page)
        flash(_("%(field)s set on %(what)s.", field=self.label_columns.get(field, field),
                what=self._what(outcome.rows)), "success")
        return redirect(url_for(f"{self.endpoint}.list", **_list_args()))

    @expose("/bulk/export", methods=["GET", "POST"])
    @has_access
    @permission_name("export")
    def bulk_export_rows(self):
        """The ticked rows (or every matching row) as the list's CSV export, same columns and format.

        Above the inline limit, "all matching" asks first (GET), then exports in a job (POST).
        """
        if selects_all(request.args):
            # the count refuses what the list could not apply
            count = bulk.count(selection(self, request.args), self.datamodel.obj)
            stale = self._refuse_stale(count) if request.method == "POST" else None
            if stale:
                return stale
            if self._as_job(count):
                if request.method == "GET":
                    return self._page("export", count=count,
                                      title=_("Export %(what)s to CSV", what=self._what(count)))
                return self._start_job("export", count)
            return export_csv(self)
        if request.method == "POST":
            raise BadRequest(_("Only an export of all matching rows is confirmed."))
        ids = ticked_ids(request.args)
        datamodel = self.datamodel
        columns = export_columns(datamodel.obj, self.label_columns)
        query = export_query(datamodel, self._base_filters, "", "", columns)
        pk = primary_key(datamodel.obj)
        query = query.filter(pk.in_(ids)).order_by(None).order_by(pk)
        table = datamodel.obj.__tablename__
        body = stream_with_context(csv_stream(query, columns, {"table": table, "selected": len(ids)}))
        return Response(body, mimetype="text/csv", headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename(table)}"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    # ------------------------------------------------------------------ background jobs
    def _as_job(self, count: int) -> bool:
        """"All matching" above CRM_BULK_INLINE_LIMIT rows runs as a background job."""
        return selects_all(request.args) and count > bulk_jobs.inline_limit()

    def _start_job(self, action: str, count: int, **extra: Any) -> Response:
        args = carried(request.args)
        args.pop("ids", None)
        job = bulk_jobs.create(self, action, count, args, **extra)
        watch_jobs()
        return redirect(url_for(f"{self.endpoint}.bulk_job", job_id=job.job_id))

    def _own_job(self, job_id: int):
        job = bulk_jobs.owned(job_id, g.user.user_id, self.endpoint)
        if job is None:  # another user's job, or another list's: as if there were none
            raise NotFound()
        watch_jobs()
        return job

    def _job_urls(self, job) -> dict[str, str | None]:
        download = None
        if job.action == "export" and job.status == "done":
            download = url_for(f"{self.endpoint}.bulk_job_download", job_id=job.job_id)
        return {"status_url": url_for(f"{self.endpoint}.bulk_job_status", job_id=job.job_id),
                "cancel_url": url_for(f"{self.endpoint}.bulk_job_cancel", job_id=job.job_id),
                "download": download}

    @expose("/bulk/jobs/<int:job_id>")
    @has_access
    @permission_name("list")
    def bulk_job(self, job_id: int):
        """The job's progress panel: N of M rows, its status, Cancel, and an export's download link."""
        job = self._own_job(job_id)
        titles = {"delete": _("Deleting %(what)s", what=self._what(job.total)),
                  "set": _("Setting a field on %(what)s", what=self._what(job.total)),
                  "export": _("Exporting %(what)s to CSV", what=self._what(job.total))}
        args = carried(job.arguments.get("args") or {}, selection=False)
        return self.render_template(
            "crm/bulk_job.html", title=titles[job.action], job=job, progress=bulk_jobs.progress(job),
            list_url=url_for(f"{self.endpoint}.list", **args), **self._job_urls(job))

    @expose("/bulk/jobs/<int:job_id>/status")
    @has_access
    @permission_name("list")
    def bulk_job_status(self, job_id: int):
        """The progress panel's JSON: status, done, total, words in the user's language, the download link."""
        job = self._own_job(job_id)
        response = jsonify({**bulk_jobs.progress(job), "download": self._job_urls(job)["download"]})
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/bulk/jobs/<int:job_id>/cancel", methods=["POST"])
    @has_access
    @permission_name("list")
    def bulk_job_cancel(self, job_id: int):
        """Stop the job after the batch under way; the batches done stay done."""
        job = self._own_job(job_id)
        if bulk_jobs.cancel(job.job_id, g.user.user_id):
            flash(_("Cancelled. The rows already done stay done."), "warning")
        else:
            flash(_("The job had already ended."), "info")
        return redirect(url_for(f"{self.endpoint}.bulk_job", job_id=job_id))

    @expose("/bulk/jobs/<int:job_id>/download")
    @has_access
    @permission_name("export")
    def bulk_job_download(self, job_id: int):
        """An export job's CSV, for the user who asked for it only."""
        job = self._own_job(job_id)
        numbers = bulk_exports.parts(job.job_id) if job.action == "export" and job.status == "done" else []
        if not numbers:
            raise NotFound(_("This export is not ready, or no longer kept."))

        def body():
            for number in numbers:
                yield bulk_exports.part(job_id, number)
            db.session.remove()

        return Response(stream_with_context(body()), mimetype="text/csv", headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{job.result_file or "export.csv"}"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    def _log(self, action_name: str, rows: int, **details: Any) -> None:
        entry = {"rows": rows, "selection": carried(request.args), **details}
        audit_log.record(action_name, entry, table=self.datamodel.obj.__tablename__, commit=False)


def _list_args() -> dict[str, list[str]]:
    """The list's own arguments of this request (filters, sort, quick search), for links back to it."""
    return carried(request.args, selection=False)
