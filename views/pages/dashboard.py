"""The managers' dashboard: KPI cards and charts for a period, owner and team; a report's history; "Refresh now"."""
from __future__ import annotations

import datetime as dt
import logging
import threading

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.audit.record import record
from app.extensions import db
from app.reports.chart_tables import data_table
from app.reports.charts import Card, trend_figures
from app.reports.dashboard_filters import PERIODS, BadFilter, Filters, OutOfScope, owner_choices, sees_everything
from app.reports.dashboard_page import build
from app.reports.generators import REPORT_TYPES, ReportsBusy, generate
from app.reports.snapshots import PLOTLY_JS, generation_running, history, plotly_version

log = logging.getLogger(__name__)
ONE_YEAR = 365 * 24 * 3600


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
    method_permission_name = {"index": "read", "history": "read", "refresh": "refresh"}
    base_permissions = ["can_read", "can_refresh"]

    def can_refresh(self) -> bool:
        return self.appbuilder.sm.has_access("can_refresh", self.class_permission_name)

    @expose("/")
    @has_access
    def index(self):
        # the figures come from the per-owner facts, read within the user's data scope (row-level security
        # on dashboard_facts as well); an owner or team outside it is answered as if it did not exist
        today = dt.datetime.now(dt.UTC).date()
        try:
            filters, problem = Filters.from_args(request.args, today), None
        except BadFilter as exc:
            filters, problem = Filters.from_args({}, today), str(exc)
        try:
            page = build(filters, today)
        except OutOfScope:
            abort(404)
        cards = [Card(name, str(page.titles[name]), figures=figures) for name, figures in page.charts.items()]
        owners, teams = owner_choices(filters)
        response = self.render_template(
            "crm/dashboard.html", cards=cards, page=page, problem=problem, periods=PERIODS, owners=owners,
            teams=teams, running=generation_running(), refresh=page.refresh, company_wide=sees_everything(),
            can_refresh=self.can_refresh(), plotly_version=plotly_version(), chart_table=data_table)
        return (response, 400) if problem else response

    @expose("/history/<report_type>")
    @has_access
    def history(self, report_type: str):
        kind = REPORT_TYPES.get(report_type)
        if kind is None:
            abort(404)
        snapshots = history(report_type)
        figures, skipped = trend_figures(report_type, snapshots)
        return self.render_template("crm/report_history.html", kind=kind, snapshots=snapshots, figures=figures,
                                    skipped=skipped, plotly_version=plotly_version(), chart_table=data_table)

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

    @expose("/plotly.min.js")
    def plotly_js(self):
        """plotly.js from the installed `plotly` package: served by the app, cached a year (the URL is versioned)."""
        response = send_file(PLOTLY_JS, mimetype="text/javascript", conditional=True, etag=True, max_age=ONE_YEAR)
        response.cache_control.public = True
        response.cache_control.immutable = True
        return response
