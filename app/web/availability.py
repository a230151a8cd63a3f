"""A lost database is a 503 with Retry-After, never a 500; the app recovers by itself.

A pooled connection idle for IDLE_PING_SECONDS or more is pinged when a request
takes it (`ping_if_idle`), so after a database restart the first request of each
worker reconnects instead of failing on a dead connection. One used a moment ago
is not (SQLAlchemy's `pool_pre_ping` paid a round trip on every request for it):
a restart that fast makes the session check's statement meet a dead connection,
and the check runs it again on a new one (app/security/sessions.py); SQLAlchemy has
by then marked every older connection of the pool for replacement.

While the database is unreachable, any request that needs
it answers 503 (JSON for the API, app.web.errors' page otherwise) — also when FAB
caught the error itself and would have flashed it and redirected as if the
request had been handled: an engine hook marks the request.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import psycopg
import psycopg.errors
from flask import Flask, Response, g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import Engine, event
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
# a connection back in the pool this long is pinged before its next use: a busy worker's never are, an idle
# worker's first request after a database restart is (less than the quickest stop and start of a server)
IDLE_PING_SECONDS = 1.0
IDLE_SINCE = "crm_idle_since"  # the pool record's info: when the connection was last given back


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


def returned(_dbapi_connection, record) -> None:
    """Pool `checkin`: note when the connection went idle."""
    record.info[IDLE_SINCE] = time.monotonic()


def ping_if_idle(engine: Engine) -> Callable[[Any, Any, Any], None]:
    """Pool `checkout`: ping a connection idle IDLE_PING_SECONDS or more; a dead one is replaced by the pool."""
    dialect = engine.dialect

    def checkout(dbapi_connection, record, _proxy) -> None:
        since = record.info.get(IDLE_SINCE)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:  # new, or used a moment ago
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None) or connection_lost(exc):
                # SQLAlchemy's documented answer: the pool discards it and connects again (or the
                # connect's error reaches the request: no database, a 503)
                raise DisconnectionError() from exc
            raise
    return checkout


def install(engine: Engine) -> None:
    """Listen for the engine's errors and ping its idle connections (once per engine; create_app calls it)."""
    if not event.contains(engine, "handle_error", mark_request):
        event.listen(engine, "handle_error", mark_request)
    if not event.contains(engine, "checkin", returned):
        event.listen(engine, "checkin", returned)
        event.listen(engine, "checkout", ping_if_idle(engine))


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
