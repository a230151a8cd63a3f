"""Account lockout after consecutive failed sign-ins, counted in `users` (atomic UPDATEs)."""
from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import text

from app.extensions import db

_FAILURE = text("""
WITH now_utc AS (SELECT now() AT TIME ZONE 'utc' AS t)
UPDATE users SET
    fail_login_count = CASE WHEN locked_until <= now_utc.t THEN 1
                            ELSE coalesce(fail_login_count, 0) + 1 END,
    locked_until = CASE
        WHEN (CASE WHEN locked_until <= now_utc.t THEN 1 ELSE coalesce(fail_login_count, 0) + 1 END)
             >= :max_failures THEN now_utc.t + make_interval(secs => :lock_seconds)
        WHEN locked_until <= now_utc.t THEN NULL
        ELSE locked_until END
FROM now_utc
WHERE user_id = :user_id
RETURNING fail_login_count, locked_until
""")

_SUCCESS = text("""
UPDATE users SET login_count = coalesce(login_count, 0) + 1, fail_login_count = 0,
                 locked_until = NULL, last_login = now() AT TIME ZONE 'utc'
WHERE user_id = :user_id
""")


def max_failures() -> int:
    return int(current_app.config.get("AUTH_LOCKOUT_FAILURES", 5))


def lock_seconds() -> int:
    return int(current_app.config.get("AUTH_LOCKOUT_MINUTES", 15) * 60)


def is_locked(user) -> bool:
    until = db.session.scalar(text("SELECT locked_until > now() AT TIME ZONE 'utc' FROM users "
                                   "WHERE user_id = :u"), {"u": user.user_id})
    return bool(until)


def record_failure(user_id: int) -> dt.datetime | None:
    """Count one failed sign-in; return the lock expiry when the account is (now) locked."""
    row = db.session.execute(_FAILURE, {"user_id": user_id, "max_failures": max_failures(),
                                        "lock_seconds": lock_seconds()}).one_or_none()
    db.session.commit()
    return row.locked_until if row else None


def record_success(user_id: int) -> None:
    db.session.execute(_SUCCESS, {"user_id": user_id})
    db.session.commit()


def unlock(user_id: int) -> None:
    db.session.execute(text("UPDATE users SET fail_login_count = 0, locked_until = NULL "
                            "WHERE user_id = :u"), {"u": user_id})
