"""`/teams/` (admins): sales teams with their leader and members; a user is in at most one team.

Derived from the model like the table screens; the members field sets `users.team_id`
(a member moved here leaves their former team), each change audited by the users' trigger.
"""
from __future__ import annotations

from typing import Any

from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import Select2ManyWidget
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select

from app.crud.derive import derive, derived_from
from app.crud.lookups import user_label
from app.extensions import db
from app.models import Team, User
from views.tables.model_view import CrmModelView


def users_by_name() -> list[User]:
    """Every account, by username: a few hundred, offered in one select."""
    return list(db.session.scalars(select(User).order_by(User.username)))


def members_text(members: Any) -> Markup:
    """The members by full name, one per line."""
    return Markup("<br>").join(escape(user.get_full_name()) for user in members or ())


MEMBERS = _l("Members")
DERIVED = derive(Team)


@derived_from(Team)
class TeamView(CrmModelView):
    base_order = ("name", "asc")
    quick_search_scan = ("name",)  # twenty teams: no index needed
    list_columns = ["name", "leader", "members", "updated_at"]
    show_columns = ["name", "leader", "members", "created_at", "updated_at"]
    add_columns = ["name", "leader", "members"]
    edit_columns = ["name", "leader", "members"]
    search_columns = ["name", "leader", "created_at", "updated_at"]
    order_columns = ["name", "updated_at"]
    label_columns = {**DERIVED["label_columns"], "members": MEMBERS, "leader": _l("Leader")}
    formatters_columns = {**DERIVED["formatters_columns"], "members": members_text}
    _members = QuerySelectMultipleField(
        MEMBERS, query_func=users_by_name, get_pk_func=lambda user: user.user_id, get_label=user_label,
        widget=Select2ManyWidget(),
        description=_l("A user is in one team at most: choosing someone here moves them from their team."))
    add_form_extra_fields = {**DERIVED["add_form_extra_fields"], "members": _members}
    edit_form_extra_fields = {**DERIVED["edit_form_extra_fields"], "members": _members}
