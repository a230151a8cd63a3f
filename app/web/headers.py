"""Security headers on every response: a nonce-based Content-Security-Policy, no framing, no caching.

Scripts run only from the app's own origin or, inline, with this request's nonce: FAB's
templates and ours write it with `baselib.get_nonce()`, which calls the `csp_nonce`
template global set here. Styles keep 'unsafe-inline' (FAB's markup, select2 and the
datepicker set style attributes and <style> elements; the app's charts do not); the policy's point
is that no injected markup can run script. Pages and API answers are never stored by a
browser or proxy (they show customers' data to a signed-in user); static files stay
cacheable.
"""
from __future__ import annotations

import secrets
from typing import Callable, TypeVar

from flask import Flask, Response, g, request

T = TypeVar("T")

# endpoints whose answers are files the same for everyone (FAB's and the app's static
# folders, app/web/assets.py); a view that sets `Cache-Control: public` itself is cacheable too
STATIC_ENDPOINTS = frozenset({"static", "appbuilder.static"})

HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def csp_nonce() -> str:
    """This request's script nonce (made on first use, one per request)."""
    space = g._get_current_object()  # once, not through the proxy twice: a page asks about twenty times
    nonce = space.__dict__.get("csp_nonce")
    if nonce is None:
        nonce = space.csp_nonce = secrets.token_urlsafe(18)
    return nonce


# what rendered HTML kept across requests (app.web.fragments) carries instead of a nonce
NONCE_PLACEHOLDER = "crm-nonce-of-the-request"


def render_reusable(render: Callable[[], T]) -> T:
    """Render HTML to keep for later requests: its nonces are a placeholder `with_nonce` fills in."""
    own = g.pop("csp_nonce", None)
    g.csp_nonce = NONCE_PLACEHOLDER
    try:
        return render()
    finally:
        g.pop("csp_nonce")
        if own is not None:
            g.csp_nonce = own


def with_nonce(html: T) -> T:
    """Kept HTML with this request's nonce in place of the placeholder."""
    if isinstance(html, str) and NONCE_PLACEHOLDER in html:
        return html.replace(NONCE_PLACEHOLDER, csp_nonce())  # Markup stays Markup
    return html


def content_security_policy(nonce: str) -> str:
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",  # data: for the icons in FAB's and select2's CSS; blob: a chart's PNG export
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


def add_security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint not in STATIC_ENDPOINTS and not response.cache_control.public:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_security_headers(app: Flask) -> None:
    """The templates' nonce (add_security_headers is registered by app/web/hooks.py)."""
    app.jinja_env.globals["csp_nonce"] = csp_nonce
