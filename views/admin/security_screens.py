"""The security manager with the CRM's admin screens, handed to AppBuilder by create_app.

FAB's security manager takes its screens as class attributes and registers them itself
(`register_views`). The rules stay in app/security/manager.py; the screens are named
here, so no app module imports views.
"""
from __future__ import annotations

from app.security.manager import CrmSecurityManager
from views.admin.api_keys import ApiKeyView
from views.admin.permission_matrix import PermissionMatrixView
from views.admin.users_roles import PermissionView, RoleView, UserInfoEditView, UserView
from views.api import SecurityApi


class SecurityManagerWithScreens(CrmSecurityManager):
    userdbmodelview = UserView
    userinfoeditview = UserInfoEditView
    security_api = SecurityApi
    rolemodelview = RoleView
    permissionviewmodelview = PermissionView
    permissionmatrixview = PermissionMatrixView
    apikeyview = ApiKeyView
