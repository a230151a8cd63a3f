"""Failed sign-ins that an attacker cannot turn against the account's owner (counted in PostgreSQL).

Two counters, both reset by a successful sign-in:
- per account and client address (`login_addresses`): AUTH_LOCKOUT_FAILURES wrong
  passwords in a row from one address lock that address out of that account for
  AUTH_LOCKOUT_MINUTES; other addresses are not affected;
- per account (`users.fail_login_count`): from AUTH_LOCKOUT_FAILURES failures on, over
  all addresses, each further attempt waits 1, 2, 4, ... seconds, at most
  AUTH_ACCOUNT_DELAY_MAX_SECONDS (`users.locked_until`), which slows a guess spread
  over many addresses. An address the account has signed in from before is spared
  this delay, so the owner still signs in from their usual place during an attack.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import text

from app import audit_log
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
    """The address a sign-in comes from (behind a proxy: configure ProxyFix)."""
    return (audit_log.client_address() or "unknown")[:64]


def refusal(user_id: int, address: str) -> str | None:
    """Why this account may not try a password from this address now: "locked", "delayed" or None."""
    row = db.session.execute(_STATE, {"user_id": user_id, "address": address}).one_or_none()
    if row is None:
        return None
    return "locked" if row.address_locked else ("delayed" if row.delayed else None)


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
