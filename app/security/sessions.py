"""Server-side control of browser sessions (OWASP ASVS 3.3): idle timeout, absolute lifetime,
logout and disabling a user end the session even if someone replays the old cookie.

Flask keeps the session in a signed cookie; the cookie also carries a random token whose
SHA-256 is a row of `user_sessions`. Every request checks that row (and that the user is
still active) before Flask-Login loads the user.
"""
from __future__ import annotations

import hashlib
import secrets

from flask import Flask, current_app, flash, g, request, session
from flask_babel import gettext as _
from flask_login import user_logged_in, user_logged_out
from sqlalchemy import Row, Select, bindparam, func, select, text
from sqlalchemy.exc import DBAPIError

from app.audit.context import SESSION_USER, bound_by_caller, request_actor
from app.extensions import db
from app.lists import reads_ahead, saved_views as saved_views_store, scope
from app.models import User, UserSession
from app.security import grants, lockout

TOKEN_KEY = "_crm_session"


def _check_statement(sight: bool | None = None, saved_views: bool = False) -> Select:
    """The session's row alive and its user active; selects the user too (with the role FAB loads it with),
    and a digest of what the role may do (app/security/grants.py); and says who acts (the audit's and
    row-level policies' `crm.user_id`).

    Loaded here, the user is in the request's identity map when Flask-Login asks FAB for it
    (`session.get`), and the role's permissions are kept for the request's has_access questions
    (app/security/grants.py): one statement per request instead of three. `sight` (not None): the
    acting user's data scopes too, after the columns that set the user (app/lists/scope.py; True:
    with the activities' question), for a kind of request that reads them: a statement fewer.
    `saved_views`: how many saved views of a list the user sees (app/lists/saved_views.py), likewise.
    """
    now = func.timezone("utc", func.now())
    stale = (UserSession.last_seen_at < now - text("interval '60 seconds'")).label("stale")
    permissions = grants.digest_of_role(User.role_id).label("permissions")
    # the user the session names acts in this transaction from here (app/audit/context.py): evaluated only
    # for the row of a live session, and a refused session's transaction is rolled back
    acting = (func.set_config("crm.user_id", bindparam("actor_id"), True).label("acting_user"),
              func.set_config("crm.via", bindparam("actor_via"), True).label("acting_via"))
    scopes = () if sight is None else scope.sight_columns(acting[0], sight)
    views = (saved_views_store.count_column(User.user_id, User.role_id),) if saved_views else ()
    return (select(User, stale, permissions, *acting, *scopes, *views)
            .join(UserSession, UserSession.user_id == User.user_id)
            .where(UserSession.token_hash == bindparam("token_hash"), UserSession.user_id == bindparam("user_id"),
                   User.active,
                   UserSession.last_seen_at > now - func.make_interval(0, 0, 0, 0, 0, 0, bindparam("idle")),
                   UserSession.created_at > now - func.make_interval(0, 0, 0, 0, 0, 0, bindparam("lifetime"))))


# built once: (sight, saved views) -> the statement; (None, False) is the plain check
_CHECKS = {(sight, views): _check_statement(sight, views) for sight in (None, False, True) for views in (False, True)}
# last_seen_at is written at most once a minute per session: most requests only read
_TOUCH = text("UPDATE user_sessions SET last_seen_at = now() AT TIME ZONE 'utc' WHERE token_hash = :token_hash")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def idle_seconds() -> int:
    return int(current_app.config["SESSION_IDLE_TIMEOUT"].total_seconds())


def lifetime_seconds() -> int:
    return int(current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds())


def start(user) -> None:
    """A new server-side session for a user who just signed in."""
    token = secrets.token_urlsafe(32)
    db.session.execute(text("INSERT INTO user_sessions (token_hash, user_id) VALUES (:h, :u)"),
                       {"h": _hash(token), "u": user.user_id})
    db.session.commit()
    session[TOKEN_KEY] = token
    session.permanent = True


def end() -> None:
    token = session.pop(TOKEN_KEY, None)
    if token:
        db.session.execute(text("DELETE FROM user_sessions WHERE token_hash = :h"), {"h": _hash(token)})
        db.session.commit()


def end_all_of(user_id: int, keep_current: bool = False) -> None:
    """End a user's sessions (disabled account, password reset), optionally keeping this one."""
    token = session.get(TOKEN_KEY) if keep_current else None
    db.session.execute(text("DELETE FROM user_sessions WHERE user_id = :u AND token_hash <> :keep"),
                       {"u": user_id, "keep": _hash(token) if token else ""})


def purge_expired() -> int:
    """Forget sessions past their lifetime or idle timeout (run at start-up)."""
    result = db.session.execute(text(
        "DELETE FROM user_sessions WHERE created_at <= now() AT TIME ZONE 'utc' - make_interval(secs => :life) "
        "OR last_seen_at <= now() AT TIME ZONE 'utc' - make_interval(secs => :idle)"),
        {"life": lifetime_seconds(), "idle": idle_seconds()})
    db.session.execute(text("DELETE FROM login_rate_windows "
                            "WHERE window_start < now() AT TIME ZONE 'utc' - interval '1 day'"))
    lockout.purge()
    db.session.commit()
    return result.rowcount


def _checked(statement: Select, params: dict) -> Row | None:
    """The check's row; run again once on a new connection when the pooled one died with its server.

    The pool pings only connections idle a while (app/web/availability.py): after a quick database
    restart, a signed-in request's first statement, this one, may meet a dead connection. SQLAlchemy
    then invalidates it and every older connection of the pool; the request goes on with a new one.
    """
    try:
        return db.session.execute(statement, params).first()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    db.session.rollback()
    g.pop("crm_database_unavailable", None)  # marked by availability.mark_request: the retry decides
    return db.session.execute(statement, params).first()


def check_session() -> None:
    """End a session that expired, was logged out or whose user was disabled (before the user is loaded)."""
    user_id = session.get("_user_id")
    if user_id is None or (request.endpoint or "").endswith("static"):
        return
    token = session.get(TOKEN_KEY)
    actor = request_actor(int(user_id)) if str(user_id).isdigit() else None
    ahead = reads_ahead.name_kind(request.endpoint)
    sight, views_of = ahead.get(reads_ahead.SIGHT), ahead.get(reads_ahead.SAVED_VIEWS)
    alive = token and actor and _checked(_CHECKS[sight, views_of is not None], {
        "token_hash": _hash(token), "user_id": int(user_id), "saved_views_of": views_of,
        "idle": idle_seconds(), "lifetime": lifetime_seconds(), "actor_id": actor[0], "actor_via": actor[1]})
    if alive:
        setattr(g, SESSION_USER, alive[0])  # held: the identity map keeps only objects something refers to
        grants.keep_digest(db.session, alive[0].role_id, alive.permissions)
        if sight is not None:
            scope.keep_sight(actor[0], alive.sight, alive.contactless if sight else None)
        if views_of is not None and not alive.saved_views:
            saved_views_store.keep_none(alive[0].user_id, alive[0].role_id, views_of)
        # the check set the actor for this transaction: the next statement needs no SET first
        bound_by_caller(db.session.connection(), actor)
        if alive.stale:  # a read-only check stays in the request's transaction: no second connection
            db.session.execute(_TOUCH, {"token_hash": _hash(token)})
            db.session.commit()  # ends the actor set by the check too: the next transaction sets its own
        return
    db.session.rollback()
    if token:
        db.session.execute(text("DELETE FROM user_sessions WHERE token_hash = :h"), {"h": _hash(token)})
        db.session.commit()
    session.clear()
    g.session_expired = True
    flash(_("Your session has ended; please sign in again."), "warning")


def init_sessions(app: Flask) -> None:
    """The idle timeout's default and the sign-in/out signals (check_session: app/web/hooks.py)."""
    app.config.setdefault("SESSION_IDLE_TIMEOUT", app.config["PERMANENT_SESSION_LIFETIME"])

    @user_logged_in.connect_via(app)
    def _on_login(_sender, user, **_extra) -> None:
        start(user)  # a fresh random token at every sign-in (ASVS 3.2.1)

    @user_logged_out.connect_via(app)
    def _on_logout(_sender, user=None, **_extra) -> None:
        end()
        session.clear()
