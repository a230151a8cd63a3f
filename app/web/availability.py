"""A lost database is a 503 with Retry-After, never a 500; the app recovers by itself.

The engine pings pooled connections before use (`pool_pre_ping`), so after a
database restart the first request of each worker reconnects instead of failing
on a dead connection. While the database is unreachable, any request that needs
it answers 503 (JSON for the API, app.web.errors' page otherwise) — also when FAB
caught the error itself and would have flashed it and redirected as if the
request had been handled: an engine hook marks the request.
"""
from __future__ import annotations

import logging

import psycopg
import psycopg.errors
from flask import Flask, Response, g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from app.web.errors import error_response, rollback_quietly
from app.extensions import db

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
MESSAGE = _l("The database cannot be reached right now, so this request was not completed. "
             "Try again in a few seconds.")
TIMEOUT_MESSAGE = _l("This request took too long, so the database stopped it; nothing was changed. "
                     "Narrow it down (a filter, a shorter period) or try again.")
BUSY_MESSAGE = _l("The database is busy with a conflicting change; nothing was changed. "
                  "Try again in a few seconds.")
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError)


def connection_lost(exc: BaseException) -> bool:
    """A driver error that means no database (not a cancelled statement, a lock timeout, ...)."""
    if not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return False
    state = getattr(exc, "sqlstate", None)
    # no SQLSTATE: the client lost the connection; 08: connection exceptions; 57P: server shutting down
    return state is None or state.startswith(("08", "57P"))


def unavailable_response(message: str = MESSAGE) -> Response:
    """503 with Retry-After; a plain page when the database is gone (the layout needs it)."""
    return error_response(503, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def mark_request(context) -> None:
    """Engine `handle_error`: a lost connection marks the request, even if FAB then catches the error."""
    if getattr(context, "is_pre_ping", False):  # a stale pooled connection: the pool reconnects
        return
    lost = context.is_disconnect or connection_lost(context.original_exception)
    if lost and has_request_context():
        g.crm_database_unavailable = True


def install(engine) -> None:
    """Listen for the engine's errors (once per engine; create_app calls it)."""
    if not event.contains(engine, "handle_error", mark_request):
        event.listen(engine, "handle_error", mark_request)


def database_unavailable(exc: Exception):
    first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    rollback_quietly()
    driver_error = getattr(exc, "orig", exc)
    if getattr(exc, "connection_invalidated", False) or connection_lost(driver_error):
        log.warning("database unavailable: %s", first_line)
        return unavailable_response()
    # the database is there but stopped this statement: say so, not "cannot be reached"
    cancelled = isinstance(driver_error, psycopg.errors.QueryCanceled)
    log.warning("database %s: %s", "statement stopped" if cancelled else "busy", first_line)
    return unavailable_response(TIMEOUT_MESSAGE if cancelled else BUSY_MESSAGE)


def init_availability(app: Flask) -> None:
    """Database errors answer 503 (the hooks below are registered by app/web/hooks.py)."""
    for kind in UNAVAILABLE:
        app.register_error_handler(kind, database_unavailable)


def close_session_quietly(exc: BaseException | None) -> None:
    """A database that went away after the answer was made must not turn it into a 500."""
    try:
        db.session.remove()
    except Exception:
        log.debug("closing the session after a lost connection failed", exc_info=True)
        db.session.registry.clear()


def caught_elsewhere(response: Response) -> Response:
    """A request marked by mark_request answers 503, whatever FAB made of the error."""
    if g.get("crm_database_unavailable") and response.status_code != 503:
        rollback_quietly()
        return unavailable_response()
    return response
