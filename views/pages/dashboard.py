"""The managers' dashboard: KPI cards and server-drawn charts for a period, owner and team; each chart's numbers
as CSV; a user's saved layout (charts, order, filters); a report's history; "Refresh now"."""
from __future__ import annotations

import datetime as dt
import logging
import threading

from flask import Response, abort, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.audit.record import record
from app.extensions import db
from app.csv_io.cells import stream
from app.reports import layouts
from app.reports.chart_tables import csv_rows, data_table
from app.reports.charts import Card, trend_figures
from app.reports.dashboard_filters import PERIODS, BadFilter, Filters, OutOfScope, owner_choices, sees_everything
from app.reports.dashboard_page import CHART_TITLES, build, charts
from app.reports.generators import REPORT_TYPES, ReportsBusy, generate
from app.reports.snapshots import generation_running, history
from app.reports.svg_charts import svg

log = logging.getLogger(__name__)


def _generate_in_background(app) -> None:
    with app.app_context():
        try:
            generate()
        except ReportsBusy:
            log.info("reports refresh skipped: another run holds the lock")
        except Exception:
            log.exception("reports refresh failed")
        finally:
            db.session.remove()


class DashboardView(BaseView):
    """Permissions: `can_read on DashboardView` (see it), `can_refresh on DashboardView` (Refresh now)."""

    route_base = "/dashboard"
    default_view = "index"
    # a layout is the user's own: whoever reads the dashboard may arrange it
    method_permission_name = {"index": "read", "history": "read", "refresh": "refresh", "export_csv": "read",
                              "save_layout": "read", "reset_layout": "read"}
    base_permissions = ["can_read", "can_refresh"]

    def can_refresh(self) -> bool:
        return self.appbuilder.sm.has_access("can_refresh", self.class_permission_name)

    @staticmethod
    def requested_filters(today: dt.date) -> tuple[Filters, str | None]:
        """The request's filters, and what is wrong with them (then the default filters)."""
        try:
            return Filters.from_args(request.args, today), None
        except BadFilter as exc:
            return Filters.from_args({}, today), str(exc)

    @expose("/")
    @has_access
    def index(self):
        layout = layouts.saved(g.user.user_id)
        if not request.args and layout is not None and layout.query:
            return redirect(url_for(f"{self.endpoint}.index") + "?" + layout.query)
        # the figures come from the per-owner facts, read within the user's data scope (row-level security
        # on dashboard_facts as well); an owner or team outside it is answered as if it did not exist
        today = dt.datetime.now(dt.UTC).date()
        filters, problem = self.requested_filters(today)
        try:
            page = build(filters, today)
        except OutOfScope:
            abort(404)
        cards = [Card(name, str(page.titles[name]), figures=figures) for name, figures in page.charts.items()]
        owners, teams = owner_choices(filters)
        response = self.render_template(
            "crm/dashboard.html", cards=layouts.arrange(cards, "type", layout), all_cards=cards, layout=layout,
            page=page, problem=problem, periods=PERIODS, owners=owners, teams=teams, running=generation_running(),
            refresh=page.refresh, company_wide=sees_everything(), can_refresh=self.can_refresh(),
            filters=layouts.filter_query(filters.args().items()), chart_table=data_table, chart_svg=svg)
        return (response, 400) if problem else response

    @expose("/export/<report_type>/<int:number>.csv")
    @has_access
    def export_csv(self, report_type: str, number: int):
        """Chart `number` (from 1) of a dashboard chart, as drawn with the request's filters: its numbers as CSV."""
        today = dt.datetime.now(dt.UTC).date()
        filters, problem = self.requested_filters(today)
        if problem:
            abort(400, problem)
        try:
            found = charts(filters, today).get(report_type)
        except OutOfScope:
            abort(404)
        if found is None or not 1 <= number <= len(found):
            abort(404)
        header, rows = csv_rows(data_table(found[number - 1]))
        name = f"{report_type}-{number}.csv"
        return Response(stream(header, rows), mimetype="text/csv", headers={
            "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{name}"'})

    @expose("/layout", methods=["POST"])
    @has_access
    def save_layout(self):
        try:
            charts_shown = layouts.chosen(request.form, list(CHART_TITLES))
            layouts.save(g.user.user_id, charts_shown, request.form.get("query", ""))
        except layouts.BadLayout:
            db.session.rollback()
            flash(_("The layout was not saved: choose at least one chart, each with a position."), "danger")
            return redirect(url_for(f"{self.endpoint}.index", **request.args))
        db.session.commit()
        flash(_("Layout saved: the dashboard opens with these charts and filters."), "success")
        query = layouts.saved(g.user.user_id).query
        return redirect(url_for(f"{self.endpoint}.index") + ("?" + query if query else ""))

    @expose("/layout/reset", methods=["POST"])
    @has_access
    def reset_layout(self):
        layouts.reset(g.user.user_id)
        db.session.commit()
        flash(_("The dashboard is back to its default layout."), "info")
        return redirect(url_for(f"{self.endpoint}.index"))

    @expose("/history/<report_type>")
    @has_access
    def history(self, report_type: str):
        kind = REPORT_TYPES.get(report_type)
        if kind is None:
            abort(404)
        snapshots = history(report_type)
        figures, skipped = trend_figures(report_type, snapshots)
        return self.render_template("crm/report_history.html", kind=kind, snapshots=snapshots, figures=figures,
                                    skipped=skipped, chart_table=data_table, chart_svg=svg)

    @expose("/refresh", methods=["POST"])
    @has_access
    def refresh(self):
        if generation_running():
            flash(_("Reports are already being generated; the charts update when that run finishes."), "warning")
        else:
            record("reports.refresh", {"types": sorted(REPORT_TYPES)})
            threading.Thread(target=_generate_in_background, args=(current_app._get_current_object(),),
                             name="reports-refresh", daemon=True).start()
            flash(_("Refreshing the reports; this page reloads when they are ready."), "info")
        return redirect(url_for(f"{self.endpoint}.index"))
