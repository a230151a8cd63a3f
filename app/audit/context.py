"""Tell the database who is acting: `crm.user_id` and `crm.via`, set per transaction.

The audit triggers name the user, and the row-level policies (migration 0026) show only
the records the user's data scope reaches: without a user, no row of the owned tables.
`set_config(..., true)` lasts until the transaction ends, so the value can never leak
to the next user of a pooled connection. A transaction may begin before the user is
known (Flask-Login loads the user with a query), so the values are (re)set before every
statement once a user is known (reads included), and before every write, when they changed.
A thread working for a request (the CRM-wide search's) says for whom with `acting_as`.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Iterator

import click
from flask import g, has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from werkzeug.local import LocalProxy

from app.web.requests import is_api_request

if TYPE_CHECKING:
    import psycopg

KEY = "crm_audit_actor"
VIA_KEY = "crm_audit_via"  # flask.g: how the change arrives, when not the request itself
SET_ACTOR = "SELECT set_config('crm.user_id', %s, true), set_config('crm.via', %s, true)"
# g's name for the user of the request's live session (app/security/sessions.py `check_session`): the statements
# between the check, which names them to the database, and Flask-Login's load act as them too (no SET between)
SESSION_USER = "crm_session_user"
# the same user by name, for the rest of the transaction (true) or of the session (false)
SET_USER_NAMED = "SELECT set_config('crm.user_id', (SELECT user_id::text FROM users WHERE username = %s), %s)"
_acting: ContextVar[tuple[str, str] | None] = ContextVar("crm_acting", default=None)


@contextmanager
def acting_as(actor: tuple[str, str]) -> Iterator[None]:
    """Act as `actor` (a request's `current_actor()`) in this thread, which has no request of its own."""
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)


def act_as_user(conn: "Connection | psycopg.Connection", username: str, session: bool = False) -> None:
    """Act as `username` on `conn` (SQLAlchemy's or psycopg's) for the rest of its transaction, or of its
    session: plain SQL as the runtime role, as that user's requests would run (scripts, tests, benchmarks)."""
    run = conn.exec_driver_sql if isinstance(conn, Connection) else conn.execute
    run(SET_USER_NAMED, (username, not session))


def current_actor() -> tuple[str, str]:
    """(application user id or '', how the change arrives: 'web POST /customers/add', 'cli crm seed')."""
    acting = _acting.get()
    if acting is not None:
        return acting
    if has_request_context():
        # the user Flask-Login has already loaded; never load it here (we may be inside
        # the session's connection set-up, where a query is not allowed)
        user = g.get("user")  # FAB sets the JWT user here; for sessions, Flask-Login's proxy
        if type(user) is LocalProxy:
            user = g.get("_login_user")  # loaded by Flask-Login, or not yet
        if user is None:  # not yet: the user whose live session the session check read, the one it loads
            user = g.get(SESSION_USER)
        # the identity key needs no query, even when the instance is expired after a commit
        state = inspect(user, raiseerr=False) if user is not None else None
        user_id = state.identity[0] if state is not None and state.identity else None
        return (str(user_id) if user_id else "", _request_via())
    ctx = click.get_current_context(silent=True)
    return ("", f"cli {ctx.command_path}"[:200] if ctx else "")


def _request_via() -> str:
    kind = "api" if is_api_request() else "web"
    # a bulk job replays its list's request in a thread of its own and says so (app/lists/bulk_jobs.py)
    return (g.get(VIA_KEY) or f"{kind} {request.method} {request.path}")[:200]


def request_actor(user_id: int) -> tuple[str, str]:
    """The actor `current_actor()` names once Flask-Login has loaded user `user_id` (in a request)."""
    return (str(user_id), _request_via())


def bound_by_caller(conn: Connection, actor: tuple[str, str]) -> None:
    """The caller's statement set `actor` itself (SET_ACTOR's set_config calls among its columns, in this
    transaction): the next statement needs no SET of its own. A transaction's begin forgets it."""
    conn.info[KEY] = actor


def bind(conn: Connection) -> None:
    actor = current_actor()
    if conn.info.get(KEY) != actor:
        conn.info[KEY] = actor  # first: the statement below must not bind again (_before_cursor)
        conn.exec_driver_sql(SET_ACTOR, actor)


def _before_flush(session: Session, _context, _instances) -> None:
    bind(session.connection())


def _before_statement(state) -> None:
    if not state.is_select:  # ORM writes, and text() which may write
        bind(state.session.connection())


def _before_cursor(conn: Connection, _cursor, _statement, _parameters, _context, _executemany) -> None:
    """Every statement, reads included, runs as the known user: the row-level policies depend on it.

    Until a user is known nothing is sent (Flask-Login's own query reads no owned table);
    the driver connection runs it, so no event fires again.
    """
    actor = current_actor()
    if conn.info.get(KEY) != actor and (actor[0] or KEY in conn.info):
        conn.connection.driver_connection.execute(SET_ACTOR, actor)
        conn.info[KEY] = actor


def _begin(conn: Connection) -> None:
    """Bind at once outside requests and for known users; else wait for the first write.

    A request's first transaction starts while Flask-Login loads the user: binding then
    would cost a round trip on every page view and name nobody.
    """
    conn.info.pop(KEY, None)
    actor = current_actor()
    # outside requests, bind when there is something to say (a CLI command, a thread acting_as
    # a request's user); a thread with neither binds at its first write, if any
    if actor[0] or (not has_request_context() and actor[1]):
        conn.info[KEY] = actor
        conn.exec_driver_sql(SET_ACTOR, actor)


def install(engine) -> None:
    """Bind the actor on the engine's transactions and every session's writes (once; create_app calls it)."""
    if not event.contains(engine, "begin", _begin):
        event.listen(engine, "begin", _begin)
    if not event.contains(engine, "before_cursor_execute", _before_cursor):
        event.listen(engine, "before_cursor_execute", _before_cursor)
    for name, listener in (("before_flush", _before_flush), ("do_orm_execute", _before_statement)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
