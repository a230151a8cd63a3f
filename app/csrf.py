"""CSRF on every state-changing request, except token-authenticated API calls.

Flask-WTF's CSRFProtect checks every POST/PUT/PATCH/DELETE (FAB's delete
and action forms included). REST calls that carry a JWT bearer token are not
cookie-authenticated, so a forged cross-site request cannot carry one; they
and the JWT login endpoint are the only exemptions.
"""
from __future__ import annotations

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

TOKEN_ENDPOINTS = ("/api/v1/security/login", "/api/v1/security/refresh")


def init_csrf(app: Flask) -> None:
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)

    @app.before_request
    def check_csrf() -> None:
        if not app.config.get("WTF_CSRF_ENABLED", True):
            return
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return
        if request.path.startswith("/api/") and (
            request.headers.get("Authorization", "").startswith("Bearer ")
            or request.path in TOKEN_ENDPOINTS
        ):
            return
        csrf.protect()
