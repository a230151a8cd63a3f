"""/operations/: the instance's jobs, backups, restore drills and disk, for admins (contract §5)."""
from __future__ import annotations

from flask import current_app
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.scheduler.health import degraded_reasons
from app.scheduler.status import sections


class OperationsView(BaseView):
    """Permission `can_operate on OperationsView`: only Admin has it (no default role's "read" covers it)."""

    route_base = "/operations"
    default_view = "index"
    method_permission_name = {"index": "operate"}
    base_permissions = ["can_operate"]

    @expose("/")
    @has_access
    def index(self):
        app = current_app._get_current_object()
        return self.render_template("crm/operations.html", sections=sections(app),
                                    reasons=degraded_reasons(app))
