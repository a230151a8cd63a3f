"""CSRF on every state-changing request that a cookie session authenticates.

Flask-WTF's CSRFProtect checks every POST/PUT/PATCH/DELETE (FAB's delete and action forms
included). A forged cross-site request rides on the browser's cookies, never on a bearer
credential, so CSRF applies only to cookie sessions: an /api/ call without a signed-in session
(nor a remember-me cookie) has nothing to forge and is exempt, whatever its Authorization header
says; the API itself answers 401 for a missing or bad credential (app/security/bearer.py). With
a cookie session, an API call is exempt only when its bearer token is a valid JWT of the same
user; otherwise (no token, an API key, another user's token) it is checked like a form. The JWT
login and refresh endpoints are exempt (they authenticate by what they carry).
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
    """An /api/ call that no cookie authenticates, or one the same user's valid JWT does."""
    if not is_api_request():
        return False
    if request.path in TOKEN_ENDPOINTS:
        return True
    cookie_user = session.get("_user_id")  # a dead session is cleared before (app/security/sessions.py)
    if cookie_user is None and current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") \
            not in request.cookies:
        return True  # no cookie authenticates the call: nothing to forge
    if cookie_user is None or not request.headers.get("Authorization", "").startswith("Bearer "):
        return False
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
