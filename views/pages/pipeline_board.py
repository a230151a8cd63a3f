"""The pipeline board screen (/pipeline/) and its card-move endpoint.

Permissions: `can_read on PipelineView` shows the board (with `can_list on
OpportunityView`: the cards are opportunities); moving a card needs `can_edit on
OpportunityView`, as the edit form does.
"""
from __future__ import annotations

import datetime as dt

from flask import abort, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, has_access_api, permission_name
from flask_appbuilder.models.sqla.filters import (FilterEqual, FilterGreater, FilterRelationOneToManyEqual,
                                                  FilterSmaller)
from flask_babel import gettext as _

from app.sales import pipeline
from app.encryption.columns import BAND_LABELS
from app.lists.links import list_url
from app.security import my_records
from app.web.errors import error_response
from app.web.requests import accepts_json

OPPORTUNITIES = "OpportunityView"


def more_url(stage: str, filters: pipeline.BoardFilters) -> str:
    """The opportunities list with as many of the board's filters as it has (not industry: a customer column)."""
    conditions = [("stage", FilterEqual, stage)]
    if filters.band is not None:
        conditions.append(("value_band", FilterEqual, filters.band))
    # the list's filters are strict (> and <): one day beyond each bound, none beyond the calendar's ends
    if filters.close_from and filters.close_from > dt.date.min:
        conditions.append(("close_date", FilterGreater, filters.close_from - dt.timedelta(days=1)))
    if filters.close_to and filters.close_to < dt.date.max:
        conditions.append(("close_date", FilterSmaller, filters.close_to + dt.timedelta(days=1)))
    if filters.owner is not None:
        conditions.append((my_records.OWNER, FilterRelationOneToManyEqual, filters.owner))
    if filters.team is not None:
        conditions.append((my_records.OWNER, my_records.FilterOwnerTeam, filters.team))
    return list_url("/opportunities", *conditions)


class PipelineView(BaseView):
    route_base = "/pipeline"
    default_view = "index"
    base_permissions = ["can_read"]

    @expose("/")
    @has_access
    @permission_name("read")
    def index(self):
        sm = self.appbuilder.sm
        if not sm.has_access("can_list", OPPORTUNITIES):
            abort(403)
        if not request.args and my_records.opens_mine("opportunities", g.user):  # "Mine" first
            return redirect(url_for(".index", owner=g.user.user_id))
        try:
            filters = pipeline.BoardFilters.from_args(request.args)
        except pipeline.BadFilter as exc:
            return self._page(pipeline.BoardFilters(), [], str(exc)), 400
        columns = pipeline.board(filters)
        for column in columns:
            column.more_url = more_url(column.stage, filters) if column.more else None
        return self._page(filters, columns, None)

    def _page(self, filters, columns, error):
        return self.render_template(
            "crm/pipeline.html", filters=filters, columns=columns, error=error, bands=BAND_LABELS,
            can_move=self.appbuilder.sm.has_access("can_edit", OPPORTUNITIES),
            cards_per_stage=pipeline.CARDS_PER_STAGE, exact_cap=pipeline.EXACT_SUM_CAP,
            switch=my_records.board_switch(g.user, request.args.to_dict(flat=False)),
            title=_("Pipeline board"))

    @expose("/move", methods=["POST"])
    @accepts_json
    @has_access_api
    @permission_name("read")
    def move(self):
        """JSON {opportunity, stage, version} -> {opportunity, stage, version}; 4xx JSON {error} when refused."""
        if not self.appbuilder.sm.has_access("can_edit", OPPORTUNITIES):
            return error_response(403, _("You may not edit opportunities."))
        try:
            opportunity_id, stage, version = pipeline.parse_move(request.get_json(silent=True))
            opportunity = pipeline.move(opportunity_id, stage, version)
        except pipeline.MoveRefused as exc:
            return error_response(exc.status, str(exc))
        return jsonify(opportunity=opportunity.opportunity_id, stage=opportunity.stage, version=opportunity.version)
