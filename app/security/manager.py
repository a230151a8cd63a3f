"""CrmSecurityManager: FAB's SQLAlchemy security manager on the seed's tables.

Follows Apache Superset's pattern: subclass FAB's SecurityManager, swap the
model classes, and override only the queries that name FAB's own tables or
its `PermissionView.permission_id` attribute (the seed uses that name for the
primary key of `permissions`).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, Dict, List, Tuple

from flask import current_app, g, has_app_context, has_request_context
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.utils import is_null_password
from flask_appbuilder.security.views import AuthDBView
from flask_babel import lazy_gettext as _
from flask_login import current_user
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.exc import NoInspectionAvailable
from flask_jwt_extended import JWTManager
from werkzeug.local import LocalProxy
from werkzeug.security import check_password_hash

from app.security import api_keys, bearer, grants, lockout
from app.audit import events as audit_events
from app.models.security import Action, Permission, Resource, Role, User, role_permissions
from app.security.passwords import change_password, fab_password_validator, hash_password

log = logging.getLogger(__name__)

ADMIN_CATEGORY = "Admin"
# when a JWT was issued, in microseconds: "iat" has whole seconds, too coarse to tell a token
# issued just before a password change from one issued just after it
ISSUED_CLAIM = "iat_us"
EPOCH = dt.datetime(1970, 1, 1)


INVALID_LOGIN_MESSAGE = _("Wrong username or password. After 5 failed attempts in a row from one address, "
                          "that address must wait 15 minutes.")
DISABLED_MESSAGE = _("This account is disabled. Ask an administrator to enable it.")


class CrmAuthDBView(AuthDBView):
    login_template = "crm/login.html"  # FAB's, with the page's <h1> (accessibility, issue #26)

    @property
    def invalid_login_message(self) -> str:
        """Generic for unknown user, wrong password and lockout (no enumeration); the disabled
        account is named only to the one who typed its right password."""
        return DISABLED_MESSAGE if g.get("login_refusal") == "disabled" else INVALID_LOGIN_MESSAGE


class CrmSecurityManager(SecurityManager):
    """The rules; the admin screens are set by the views (views/admin/security_screens.py)."""

    authdbview = CrmAuthDBView
    user_model = User
    role_model = Role
    permission_model = Action
    viewmenu_model = Resource
    permissionview_model = Permission
    userstatschartview = None
    permissionmatrixview: type | None = None  # ours: shown under Admin when set
    apikeyview: type | None = None  # ours: shown under Admin when set

    def __init__(self, appbuilder) -> None:
        current_app.config.setdefault("FAB_PASSWORD_COMPLEXITY_VALIDATOR", fab_password_validator)
        # FAB's protect() asks validate_api_key for a bearer token with this prefix, a JWT otherwise
        current_app.config.setdefault("FAB_API_KEY_ENABLED", True)
        current_app.config["FAB_API_KEY_PREFIXES"] = [api_keys.PREFIX]
        super().__init__(appbuilder)

    # ---------------------------------------------------------------- sign-in
    def auth_user_db(self, username: str, password: str) -> User | None:
        """Check a sign-in (screens and the API's JWT login) with lockout; None when refused.

        The reason is left in g.login_refusal for the sign-in screen's message.
        """
        if not username or is_null_password(password):
            self.login_failed(username or "", None, "empty")
            return None
        user = self.find_user(username=username) or self.find_user(email=username)
        address = lockout.client_address()
        refused = "unknown user" if user is None else lockout.refusal(user.user_id, address)
        if refused:
            # the same work as a real check, so timing does not tell which case it was
            check_password_hash(current_app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], "password")
            self.login_failed(username, user, refused)
            return None
        if not check_password_hash(user.password, password):
            self.login_failed(username, user, "wrong password")
            return None
        if not user.is_active:  # said only after the right password: no enumeration
            self.login_failed(username, user, "disabled")
            return None
        self.login_succeeded(user)
        return user

    def login_succeeded(self, user: User) -> None:
        """The one place a successful sign-in is handled (audit logging hooks in here)."""
        lockout.record_success(user.user_id, lockout.client_address())
        lockout.remember_device(user.user_id)
        self.session.refresh(user)
        self.on_user_login(user)
        audit_events.login_succeeded(user)

    def login_failed(self, username: str, user: User | None, reason: str) -> None:
        """The one place a failed sign-in is handled (audit logging hooks in here)."""
        g.login_refusal = reason
        address = lockout.client_address()
        detail = ""
        if user is not None and reason == "wrong password":
            locked_until, delayed_until = lockout.record_failure(user.user_id, address)
            if locked_until:
                detail = f", {address} locked out of it until {locked_until:%H:%M:%S} UTC"
            elif delayed_until:
                detail = f", next attempt from a new address after {delayed_until:%H:%M:%S} UTC"
        log.info("sign-in refused for %r from %s: %s%s", username[:100], address, reason, detail)
        if user is not None:
            self.on_user_login_failed(user)
        audit_events.login_failed(username, user, reason)

    def reset_password(self, userid: int, password: str) -> bool:
        """Own or admin password reset: ends the user's other sessions (ASVS 3.3.3) and tokens."""
        user = self.get_user_by_id(userid)
        if user is None:
            return False
        change_password(user, password, keep_current_session=True)
        self.session.commit()
        return True

    # ---------------------------------------------------------------- API tokens
    def create_jwt_manager(self, app) -> JWTManager:
        jwt_manager = super().create_jwt_manager(app)
        jwt_manager.additional_claims_loader(lambda _identity: {ISSUED_CLAIM: time.time_ns() // 1000})
        jwt_manager.token_in_blocklist_loader(self.token_revoked)
        bearer.install_jwt_answers(jwt_manager)  # 401 in the one error shape, never 422
        return jwt_manager

    def token_revoked(self, _header: dict, payload: dict) -> bool:
        """A token of a deleted or disabled user, or issued before the user's password last changed."""
        sub = str(payload.get("sub", ""))
        user = self.get_user_by_id(int(sub)) if sub.isdigit() else None
        if user is None or not user.active:
            return True
        if user.jwt_valid_after is None:
            return False
        issued_us = payload.get(ISSUED_CLAIM, payload["iat"] * 1_000_000)  # tokens from before the claim
        return issued_us < (user.jwt_valid_after - EPOCH) // dt.timedelta(microseconds=1)

    def validate_api_key(self, api_key_string: str) -> User:
        """The API key's user, who acts for this request (FAB's permission checks read g.user);
        a refused key raises a 401 (app/security/api_keys.py)."""
        user = api_keys.authenticate(api_key_string)
        g.user = user
        g._api_key_user = True  # FAB's flag: has_access and current_user take g.user
        return user

    # ---------------------------------------------------------------- views
    def register_views(self) -> None:
        """Register login, password and admin screens under one Admin menu."""
        self.appbuilder.add_api(self.security_api)
        self.appbuilder.add_view_no_menu(self.userinfoeditview())
        self.user_view = self.userdbmodelview
        self.auth_view = self.authdbview()
        self.appbuilder.add_view_no_menu(self.resetpasswordview())
        self.appbuilder.add_view_no_menu(self.resetmypasswordview())
        self.appbuilder.add_view_no_menu(self.auth_view)
        if self.is_auth_limited:
            self.limiter.limit(self.auth_rate_limit, methods=["POST"])(self.auth_view.blueprint)
        self.user_view = self.appbuilder.add_view(
            self.user_view, "Users", icon="fa-user", label=_("Users"),
            category=ADMIN_CATEGORY, category_icon="fa-cogs", category_label=_("Admin"),
        )
        role_view = self.appbuilder.add_view(
            self.rolemodelview, "Roles", icon="fa-user-gear", label=_("Roles"),
            category=ADMIN_CATEGORY,
        )
        role_view.related_views = [self.user_view.__class__]
        self.appbuilder.add_view(
            self.permissionviewmodelview, "Permissions", icon="fa-lock",
            label=_("Permissions"), category=ADMIN_CATEGORY,
        )
        if self.permissionmatrixview is not None:
            self.appbuilder.add_view(
                self.permissionmatrixview, "Permission matrix", icon="fa-table-cells",
                label=_("Permission matrix"), category=ADMIN_CATEGORY,
            )
        if self.apikeyview is not None:
            self.appbuilder.add_view(
                self.apikeyview, "API keys", icon="fa-key", label=_("API keys"), category=ADMIN_CATEGORY,
            )

    # ----------------------------------------------------------- users
    def add_user(  # type: ignore[override]
        self,
        username: str,
        first_name: str,
        last_name: str,
        email: str,
        role: Any = None,
        password: str = "",
        hashed_password: str = "",
        groups: Any = None,
        commit: bool = True,
    ) -> User | bool:
        """Create a user with one role (users.role_id)."""
        roles = role if isinstance(role, list) else [role]
        roles = [r for r in roles if r is not None]
        if not roles:
            log.error("Cannot add user %s without a role", username)
            return False
        try:
            user = User(
                username=username, first_name=first_name, last_name=last_name,
                email=email, active=True, role=roles[0],
                password_hash=hashed_password or hash_password(password),
            )
            self.session.add(user)
            if commit:
                self.session.commit()
            else:
                self.session.flush()
            return user
        except Exception as exc:  # FAB's contract: False on failure
            log.error("Error adding user %s: %s", username, exc)
            self.session.rollback()
            return False

    # ----------------------------------------------------------- permission queries
    def _role_permission_query(self):
        return (
            select(Permission)
            .join(role_permissions, role_permissions.c.permission_id == Permission.permission_id)
            .join(Action, Action.id == Permission.action_id)
            .join(Resource, Resource.id == Permission.resource_id)
        )

    def has_access(self, permission_name: str, view_name: str) -> bool:
        """FAB's answer, kept for the request: a list page asks a dozen times (menu, buttons, bulk actions).

        Kept per identity (the signed-in user, FAB's g.user, an API key's user), so a sign-in
        in the middle of a request is asked afresh; role permissions are read once per request anyway.
        """
        if not has_request_context():
            return super().has_access(permission_name, view_name)
        space = g._get_current_object()  # the request's namespace once, not through the proxy per lookup
        user = space.get("user")  # FAB's g.user: the current_user proxy, resolved once (not per hash and compare)
        if user is current_user and "_login_user" in space:
            user = space._login_user  # what Flask-Login's proxy answers once it loaded the user
        elif isinstance(user, LocalProxy):
            user = user._get_current_object()
        identity = (space.get("_login_user"), user, space.get("_api_key_user"))
        key = (*identity, permission_name, view_name)
        known = space.setdefault("crm_access", {})
        if key not in known:
            grants = space.setdefault("crm_grants", {})
            if identity not in grants:
                grants[identity] = self._signed_in_grants()
            found = grants[identity]
            known[key] = ((permission_name, view_name) in found if found is not None
                          else super().has_access(permission_name, view_name))
        return known[key]

    def _signed_in_grants(self) -> frozenset[tuple[str, str]] | None:
        """What FAB's has_access reads for a signed-in, active user of database roles; None: FAB decides.

        FAB resolves the user, their roles and the permission for every (permission, view) asked
        (a list page asks 16); for such a user its answer is whether the pair is among the roles'
        permissions, read here once per identity and request.
        """
        if getattr(g, "_api_key_user", False) or not current_user.is_authenticated:
            return None
        try:
            if sa_inspect(getattr(g, "user", None)).detached:  # no longer in the session: FAB reloads it
                return None
        except NoInspectionAvailable:  # FAB's g.user is the current_user proxy (or None)
            pass
        return self.current_permissions()

    def current_permissions(self) -> frozenset[tuple[str, str]] | None:
        """(action, resource) pairs of the signed-in user's roles; None when FAB decides otherwise.

        None for a signed-out visitor (the public role), an inactive user or a built-in
        (config-defined) role.
        """
        user = getattr(g, "user", None) if has_app_context() else None
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return None
        roles = self.get_user_roles(user)
        if not roles or any(role.name in self.builtin_roles for role in roles):
            return None
        return self._permissions_of(tuple(sorted(role.id for role in roles)))

    def exist_permission_on_roles(self, view_name: str, permission_name: str, role_ids: List[int]) -> bool:
        # FAB asks this once per menu entry and button (~20 queries a page); one query per
        # request answers them all. The cache lives in flask.g, so it never outlives a request.
        return (permission_name, view_name) in self._permissions_of(tuple(sorted(role_ids)))

    def _permissions_of(self, role_ids: tuple[int, ...]) -> frozenset[tuple[str, str]]:
        return grants.granted(self.session, role_ids)

    def find_roles_permission_view_menus(self, permission_name: str, role_ids: List[int]):
        query = self._role_permission_query().where(
            Action.name == permission_name, role_permissions.c.role_id.in_(role_ids)
        )
        return self.session.scalars(query).unique().all()

    def get_db_role_permissions(self, role_id: int) -> List[Permission]:
        query = self._role_permission_query().where(role_permissions.c.role_id == role_id)
        return self.session.scalars(query).unique().all()

    def get_user_roles_permissions(self, user: User) -> Dict[str, List[Tuple[str, str]]]:
        if not user.roles:
            raise AttributeError("User object does not have roles")
        result: Dict[str, List[Tuple[str, str]]] = {}
        for role in self.get_user_roles(user):
            result[role.name] = [
                (p.permission.name, p.view_menu.name) for p in self.get_db_role_permissions(role.id)
            ]
        return result

    def add_permission_view_menu(self, permission_name: str, view_menu_name: str):
        if not (permission_name and view_menu_name):
            return None
        existing = self.find_permission_view_menu(permission_name, view_menu_name)
        if existing:
            return existing
        permission = Permission(
            permission=self.add_permission(permission_name),
            view_menu=self.add_view_menu(view_menu_name),
        )
        try:
            self.session.add(permission)
            self.session.commit()
            return permission
        except Exception as exc:
            log.error("Error adding permission %s on %s: %s", permission_name, view_menu_name, exc)
            self.session.rollback()
            return None
