"""CSRF on every state-changing request, except API calls a valid bearer token authenticates.

Flask-WTF's CSRFProtect checks every POST/PUT/PATCH/DELETE (FAB's delete
and action forms included). A forged cross-site request rides on the session
cookie, never on a bearer token, so an API call is exempt when its token is
valid (signature, expiry, not revoked) and the cookie, if any, is of the same
user. A cookie-authenticated call that merely carries an Authorization header
is checked like a form. Without a signed-in cookie there is nothing to forge:
the API's own check answers 401 for a bad token. The JWT login and refresh
endpoints are exempt (they authenticate by what they carry).
"""
from __future__ import annotations

from flask import Flask, current_app, request, session
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_wtf.csrf import CSRFProtect
from jwt.exceptions import PyJWTError

from app.web.requests import is_api_request

csrf = CSRFProtect()

TOKEN_ENDPOINTS = ("/api/v1/security/login", "/api/v1/security/refresh")


def _exempt_api_call() -> bool:
    """An /api/ call that no session cookie authenticates, or one its valid bearer token does."""
    if not is_api_request():
        return False
    if request.path in TOKEN_ENDPOINTS:
        return True
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return False
    cookie_user = session.get("_user_id")  # a dead session is cleared before (app/security/sessions.py)
    if cookie_user is None:
        return True
    try:
        verify_jwt_in_request(locations=["headers"])
    except (JWTExtendedException, PyJWTError):
        return False
    return str(get_jwt_identity()) == str(cookie_user)


def init_csrf(app: Flask) -> None:
    """Flask-WTF with its own check off: check_csrf decides (registered by app/web/hooks.py)."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)


def check_csrf() -> None:
    """Refuse a state-changing request without a valid CSRF token (CSRFError), unless exempt."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return
    if _exempt_api_call():
        return
    csrf.protect()
