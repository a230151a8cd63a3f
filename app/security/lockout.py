"""Failed sign-ins that an attacker cannot turn against the account's owner (counted in PostgreSQL).

Two counters, both reset by a successful sign-in:
- per account and client address (`login_addresses`): AUTH_LOCKOUT_FAILURES wrong
  passwords in a row from one address lock that address out of that account for
  AUTH_LOCKOUT_MINUTES; other addresses are not affected;
- per account (`users.fail_login_count`): from AUTH_LOCKOUT_FAILURES failures on, over
  all addresses, each further attempt waits 1, 2, 4, ... seconds, at most
  AUTH_ACCOUNT_DELAY_MAX_SECONDS (`users.locked_until`), which slows a guess spread
  over many addresses. An address the account has signed in from before, and a browser
  that carries the account's known-device cookie (set at each successful sign-in, signed
  with the secret key: OWASP's "device cookies"), are spared this delay, so the owner
  still signs in from their usual place or their own browser on a new network while an
  attack goes on.
"""
from __future__ import annotations

from flask import Response, after_this_request, current_app, has_request_context, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import text

from app.audit import record as audit_log
from app.extensions import db

NOW = "(now() AT TIME ZONE 'utc')"

_STATE = text(f"""
SELECT coalesce(a.locked_until > {NOW}, false) AS address_locked,
       coalesce(u.locked_until > {NOW}, false) AND a.last_success_at IS NULL AS delayed
FROM users u LEFT JOIN login_addresses a ON a.user_id = u.user_id AND a.address = :address
WHERE u.user_id = :user_id
""")

# an expired lock starts a new count; the lock is set by the failure that reaches the limit
_ADDRESS_FAILURE = text(f"""
INSERT INTO login_addresses AS a (user_id, address, failures, last_failure_at)
VALUES (:user_id, :address, 1, {NOW})
ON CONFLICT (user_id, address) DO UPDATE SET
    failures = CASE WHEN a.locked_until <= {NOW} THEN 1 ELSE a.failures + 1 END,
    locked_until = CASE
        WHEN (CASE WHEN a.locked_until <= {NOW} THEN 1 ELSE a.failures + 1 END) >= :max_failures
            THEN {NOW} + make_interval(secs => :lock_seconds)
        WHEN a.locked_until <= {NOW} THEN NULL
        ELSE a.locked_until END,
    last_failure_at = {NOW}
RETURNING failures, locked_until
""")

_ACCOUNT_FAILURE = text(f"""
UPDATE users SET
    fail_login_count = coalesce(fail_login_count, 0) + 1,
    locked_until = CASE WHEN coalesce(fail_login_count, 0) + 1 >= :max_failures
        THEN {NOW} + make_interval(secs => least(:max_delay,
                                                 power(2, least(coalesce(fail_login_count, 0) + 1 - :max_failures, 30))))
        END
WHERE user_id = :user_id
RETURNING fail_login_count, locked_until
""")

_SUCCESS = text(f"""
WITH account AS (
    UPDATE users SET login_count = coalesce(login_count, 0) + 1, fail_login_count = 0,
                     locked_until = NULL, last_login = {NOW}
    WHERE user_id = :user_id)
INSERT INTO login_addresses AS a (user_id, address, failures, last_success_at)
VALUES (:user_id, :address, 0, {NOW})
ON CONFLICT (user_id, address) DO UPDATE SET failures = 0, locked_until = NULL, last_success_at = {NOW}
""")


def max_failures() -> int:
    return int(current_app.config.get("AUTH_LOCKOUT_FAILURES", 5))


def lock_seconds() -> int:
    return int(current_app.config.get("AUTH_LOCKOUT_MINUTES", 15) * 60)


def max_delay_seconds() -> int:
    return int(current_app.config.get("AUTH_ACCOUNT_DELAY_MAX_SECONDS", 60))


def client_address() -> str:
    """The address a sign-in comes from (behind proxies: CRM_PROXY_HOPS)."""
    return (audit_log.client_address() or "unknown")[:64]


DEVICE_COOKIE = "crm_known_device"
DEVICE_DAYS = 365
DEVICE_USERS = 5  # accounts remembered per browser (a shared front-desk PC)


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="crm-known-device")


def known_device_users() -> list[int]:
    """The accounts that signed in from this browser (its valid known-device cookie), newest first."""
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie:
        return []
    try:
        users = _devices().loads(cookie, max_age=DEVICE_DAYS * 86400)
    except BadSignature:  # also an expired one
        return []
    return [u for u in users if isinstance(u, int)] if isinstance(users, list) else []


def remember_device(user_id: int) -> None:
    """Give this browser the account's known-device cookie with the answer of this request."""
    if not has_request_context():
        return
    users = [user_id, *(u for u in known_device_users() if u != user_id)][:DEVICE_USERS]

    @after_this_request
    def set_cookie(response: Response) -> Response:
        response.set_cookie(DEVICE_COOKIE, _devices().dumps(users), max_age=DEVICE_DAYS * 86400,
                            httponly=True, samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
        return response


def refusal(user_id: int, address: str) -> str | None:
    """Why this account may not try a password from this address now: "locked", "delayed" or None."""
    row = db.session.execute(_STATE, {"user_id": user_id, "address": address}).one_or_none()
    if row is None:
        return None
    if row.address_locked:
        return "locked"
    return "delayed" if row.delayed and user_id not in known_device_users() else None


def record_failure(user_id: int, address: str) -> tuple:
    """Count one wrong password; returns (this address's lock end, the account's delay end)."""
    params = {"user_id": user_id, "address": address, "max_failures": max_failures()}
    pair = db.session.execute(_ADDRESS_FAILURE, {**params, "lock_seconds": lock_seconds()}).one()
    account = db.session.execute(_ACCOUNT_FAILURE, {**params, "max_delay": max_delay_seconds()}).one()
    db.session.commit()
    return pair.locked_until, account.locked_until


def record_success(user_id: int, address: str) -> None:
    db.session.execute(_SUCCESS, {"user_id": user_id, "address": address})
    db.session.commit()


def unlock(user_id: int) -> None:
    """Clear every counter and lock of an account (addresses it signed in from stay known)."""
    db.session.execute(text("UPDATE users SET fail_login_count = 0, locked_until = NULL WHERE user_id = :u"),
                       {"u": user_id})
    db.session.execute(text("UPDATE login_addresses SET failures = 0, locked_until = NULL WHERE user_id = :u"),
                       {"u": user_id})


def purge() -> None:
    """Forget addresses with neither a success nor a failure in the last 90 days (run at start-up)."""
    db.session.execute(text(f"""
        DELETE FROM login_addresses WHERE coalesce(greatest(last_success_at, last_failure_at), '-infinity')
                                          < {NOW} - interval '90 days'
                                      AND coalesce(locked_until, '-infinity') < {NOW}"""))
