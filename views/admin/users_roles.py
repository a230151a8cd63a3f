"""Admin screens over the seed's users, roles and permissions tables."""
from __future__ import annotations

from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.views import (
    PermissionViewModelView,
    RoleModelView,
    UserDBModelView,
    UserInfoEditView as FabUserInfoEditView,
)
from flask import g
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.validators import PasswordComplexityValidator
from flask_babel import lazy_gettext as _
from sqlalchemy import func, inspect, select
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, ValidationError

from app.security import sessions
from app.extensions import db
from app.crud.forms import KnownChoices
from app.models import Role, Team, User
from app.crud.derive import column_validators
from app.i18n.formatting import cell_text
from app.i18n.labels import column_label
from views.mixins.actions import ActionGuardMixin
from views.mixins.quick_search import FabListSearchMixin
from views.mixins.show_panels import ShowPanelsMixin

PASSWORD_POLICY = _("At least 12 characters; not the username (also repeated), not one character "
                    "repeated, not a commonly used password (also with digits added).")

_users = User.__table__


class UserView(FabListSearchMixin, ActionGuardMixin, ShowPanelsMixin, UserDBModelView):
    route_base = "/users"
    list_title = _("Users")
    quick_search_scan = ("username", "first_name", "last_name", "email")  # a few hundred rows: no index needed
    list_columns = ["username", "email", "first_name", "last_name", "role", "team", "active", "last_login"]
    formatters_columns = dict.fromkeys(list_columns, cell_text)  # Yes/No, times to the minute, no "None"
    search_columns = ["username", "email", "first_name", "last_name", "role", "team", "active", "last_login",
                      "created_at"]
    order_columns = ["username", "email", "first_name", "last_name", "active", "last_login"]
    add_columns = ["username", "first_name", "last_name", "email", "role", "team", "active",
                   "password", "conf_password"]
    edit_columns = ["username", "first_name", "last_name", "email", "role", "team", "active"]
    show_fieldsets = [
        (_("User"), {"fields": ["username", "email", "first_name", "last_name", "role", "team", "active"]}),
        (_("Sign-in"), {"fields": ["last_login", "login_count", "fail_login_count",
                                   "created_at", "updated_at"]}),
    ]
    user_show_fieldsets = show_fieldsets[:1]
    label_columns = {**UserDBModelView.label_columns, "role": _("Role"), "team": column_label("users", "team"),
                     "created_at": _("Created"), "updated_at": _("Updated")}
    description_columns = {}
    validators_columns = {
        name: column_validators(_users, _users.c[name])
        for name in ("username", "email", "first_name", "last_name")
    }

    # FAB makes a NOT NULL boolean "required", so unticking Active could never be saved;
    # ticked by default: a new account is meant to sign in
    _team = QuerySelectField(column_label("users", "team"),
                             query_func=lambda: db.session.scalars(select(Team).order_by(Team.name)).all(),
                             get_pk_func=lambda team: team.team_id, allow_blank=True, blank_text=_("No team"),
                             widget=Select2Widget(),
                             description=_("A user is in one team at most; its records are visible to its leader."))
    _active = BooleanField(_("Active"), default=True,
                           description=_("A disabled user cannot sign in; their open sessions end at once."))
    add_form_extra_fields = {
        **UserDBModelView.add_form_extra_fields,
        "password": PasswordField(_("Password"), description=PASSWORD_POLICY,
                                  validators=[DataRequired(), PasswordComplexityValidator()],
                                  widget=BS3PasswordFieldWidget()),
        "active": _active,
        # no role chosen for the admin (FAB would pre-select the first, Admin)
        "role": QuerySelectField(_("Role"), query_func=lambda: db.session.scalars(
                                     select(Role).order_by(Role.role_name)).all(),
                                 get_pk_func=lambda role: role.role_id, allow_blank=True,
                                 blank_text=_("Choose a role"), validators=[DataRequired()],
                                 widget=Select2Widget()),
        "team": _team,
    }
    edit_form_extra_fields = {"active": _active, "team": _team}

    def pre_delete(self, item: User) -> None:
        if g.user is not None and item.user_id == g.user.id:
            raise ValueError(_("You cannot delete your own account."))

    def pre_update(self, item: User) -> None:
        # an admin must not lock themselves out by accident
        if g.user is not None and item.user_id == g.user.id:
            if not item.active:
                raise ValueError(_("You cannot disable your own account."))
            history = inspect(item).attrs.role.history
            if history.added and history.deleted and history.added[0] is not history.deleted[0]:
                raise ValueError(_("You cannot change your own role; ask another admin."))

    def post_update(self, item: User) -> None:
        if not item.active:  # a disabled user's open sessions end now
            sessions.end_all_of(item.user_id)
            self.datamodel.session.commit()


class RoleNameFree:
    """A role name not taken in any case ("sales rep" beside "Sales Rep"); the edited role may keep its own."""

    def __call__(self, form, field) -> None:
        name = (field.data or "").strip()
        query = select(Role.role_id).where(func.lower(Role.role_name) == name.lower())
        editing = str(getattr(form, "_id", "") or "")
        if editing.isdigit():
            query = query.where(Role.role_id != int(editing))
        if name and db.session.scalar(query.limit(1)) is not None:
            raise ValidationError(_("A role with this name exists already (letter case does not count)."))


class ProfileForm(DynamicForm):
    """Own-profile edit with the users table's rules (FAB's form only requires a value)."""

    first_name = StringField(_("First Name"), column_validators(_users, _users.c.first_name),
                             widget=BS3TextFieldWidget())
    last_name = StringField(_("Last Name"), column_validators(_users, _users.c.last_name),
                            widget=BS3TextFieldWidget())


class UserInfoEditView(FabUserInfoEditView):
    """FAB's own-profile edit; the class name keeps its address and permission (/userinfoeditview/)."""

    form = ProfileForm


class RoleView(FabListSearchMixin, ActionGuardMixin, ShowPanelsMixin, RoleModelView):
    list_title = _("Roles")
    quick_search_scan = ("role_name",)
    list_columns = ["role_name", "permissions"]
    show_columns = ["role_name", "permissions"]
    edit_columns = ["role_name", "permissions"]
    add_columns = edit_columns
    order_columns = ["role_name"]
    search_columns = ["role_name"]
    label_columns = {"role_name": _("Role"), "permissions": _("Permissions")}
    # a field of its own: FAB would add its case-sensitive Unique check (a second message)
    _role_name = StringField(_("Role"), validators=[*column_validators(Role.__table__, Role.__table__.c.role_name),
                                                    RoleNameFree()], widget=BS3TextFieldWidget())
    add_form_extra_fields = {"role_name": _role_name}
    edit_form_extra_fields = add_form_extra_fields
    validators_columns = {"permissions": [KnownChoices()]}

    def pre_delete(self, item) -> None:
        if item.users:
            raise ValueError(_("Users still have this role; give them another role first."))


class PermissionView(ActionGuardMixin, PermissionViewModelView):
    route_base = "/permissions"
    list_columns = ["permission_name", "permission", "view_menu"]
    show_columns = ["permission_name", "permission", "view_menu", "roles"]
    search_columns = ["permission_name"]
    base_permissions = ["can_list", "can_show"]
    label_columns = {"permission_name": _("Permission"), "permission": _("Action"),
                     "view_menu": _("Resource"), "roles": _("Roles")}
