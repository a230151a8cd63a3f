"""FAB's action routes without their 500s, and no file-download route (there is no upload folder)."""
from __future__ import annotations

from typing import Any

from flask import abort, request
from flask_appbuilder import expose

WRITE_PERMISSIONS = ("can_add", "can_edit", "can_delete")


class ActionGuardMixin:
    """An unknown action name is a 400, or a 403 for a user who may run no action on the screen.

    FAB looks the name up and calls the result, so any other name was an AttributeError.
    """

    exclude_route_methods = {"download"}  # FAB's send_file from UPLOAD_FOLDER, which this app has not

    def _refuse_unknown_action(self, name: Any, kind: str) -> None:
        """`kind` is "single" (one row, /action/) or "multiple" (selected rows, /action_post)."""
        if isinstance(name, str) and name in self.actions:
            if not getattr(self.actions[name], kind):
                abort(400)  # FAB would hand a bulk action one row, or a one-row action a list
            return
        sm = self.appbuilder.sm
        permissions = {*WRITE_PERMISSIONS, *(self.get_action_permission_name(n) for n in self.actions)}
        may_act = any(sm.has_access(p, self.class_permission_name) for p in permissions)
        abort(400 if may_act else 403)

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name: str, pk: str):
        self._refuse_unknown_action(name, "single")
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        self._refuse_unknown_action(request.form.get("action"), "multiple")
        return super().action_post()
