"""Per-address rate limit on sign-in attempts, counted in PostgreSQL (fixed windows).

The counter lives in the database, not in a worker's memory, so the limit holds
across gunicorn workers and app servers. Behind a reverse proxy, configure
CRM_PROXY_HOPS (werkzeug's ProxyFix) so that `request.remote_addr` is the client's address.
"""
from __future__ import annotations

import math

from flask import current_app, request
from flask_babel import gettext as _
from sqlalchemy import text

from app.web.errors import error_response
from app.extensions import db

LOGIN_PATHS = ("/login/", "/api/v1/security/login")

_HIT = text("""
WITH w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / :window) * :window)
                  AT TIME ZONE 'utc' AS start)
INSERT INTO login_rate_windows (address, window_start, attempts)
SELECT :address, w.start, 1 FROM w
ON CONFLICT (address, window_start) DO UPDATE SET attempts = login_rate_windows.attempts + 1
RETURNING attempts,
          extract(epoch FROM window_start + make_interval(secs => :window)
                  - now() AT TIME ZONE 'utc') AS remaining
""")


def limit() -> tuple[int, int]:
    """(attempts, seconds) allowed per address."""
    return (int(current_app.config.get("AUTH_RATE_LIMIT_ATTEMPTS", 10)),
            int(current_app.config.get("AUTH_RATE_LIMIT_SECONDS", 60)))


def hit(address: str) -> int | None:
    """Count one attempt; return seconds to wait when the address is over its limit."""
    attempts_allowed, window = limit()
    row = db.session.execute(_HIT, {"address": address[:64], "window": window}).one()
    if row.attempts == 1:  # a new window: forget old ones
        db.session.execute(text("DELETE FROM login_rate_windows WHERE window_start < "
                                "now() AT TIME ZONE 'utc' - make_interval(secs => :keep)"),
                           {"keep": 2 * window})
    db.session.commit()
    if row.attempts > attempts_allowed:
        return max(1, math.ceil(row.remaining))
    return None


def is_login_attempt() -> bool:
    return request.method == "POST" and request.path in LOGIN_PATHS


def _refuse(wait: int):
    message = _("Too many sign-in attempts from your address. Try again in %(wait)s seconds.", wait=wait)
    return error_response(429, message, headers={"Retry-After": str(wait)})


def limit_login_attempts():
    """A sign-in attempt over the address's limit: 429 with Retry-After."""
    if not is_login_attempt():
        return None
    wait = hit(request.remote_addr or "unknown")
    return _refuse(wait) if wait else None
