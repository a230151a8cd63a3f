"""API keys for integrations (`Authorization: Bearer crm_…`): create, revoke, list, and the check of each request.

A key is "crm_" and 43 URL-safe characters: 32 random bytes. Only its SHA-256 is stored. A
password hash (scrypt, bcrypt) slows down guessing of low-entropy secrets; 256 random bits
need no such help, and it would cost tens of milliseconds on every API request. SHA-256 makes
the check one lookup on a unique index, and a copy of the table gives nothing to sign in with.
Each request reads the key's row, so a revocation, an expiry or a disabled user is refused at
once on every app server; its last use is written at most once a minute (api_key_uses).

Audit: the api_keys row is audited like every table (its creation and revocation, by whom);
the first use of each day is an app event, "api key used", under the key's user.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata

from flask_babel import gettext as _
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from app.audit.record import client_address, record
from app.extensions import db
from app.models import ApiKey, User
from app.security import bearer

PREFIX = "crm_"
SHOWN = 8  # characters of the secret kept with the key, to recognise it
NAME_MAX = 100
DAYS_MAX = 3650
# the key's last use, at most once a minute: a row of api_key_uses, which is not audited;
# a concurrent request finds the row fresh and writes nothing (0 rows)
_TOUCH = text("""INSERT INTO api_key_uses (api_key_id, last_used_at) VALUES (:id, now() AT TIME ZONE 'utc')
ON CONFLICT (api_key_id) DO UPDATE SET last_used_at = EXCLUDED.last_used_at
WHERE api_key_uses.last_used_at < EXCLUDED.last_used_at - interval '60 seconds'""")


class ApiKeyError(ValueError):
    """A refusal people can act on (the CLI and the screen show it)."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def status(key: ApiKey, now: dt.datetime | None = None) -> str:
    """'revoked', 'expired' or 'active'."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= (now or utc_now()):
        return "expired"
    return "active"


def checked_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ApiKeyError(_("Give the key a name (for example the integration that will use it)."))
    if len(name) > NAME_MAX:
        raise ApiKeyError(_("The name is longer than %(max)s characters.", max=NAME_MAX))
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise ApiKeyError(_("The name contains control characters."))
    if db.session.scalar(select(ApiKey.api_key_id).where(ApiKey.name == name)) is not None:
        raise ApiKeyError(_("There is already an API key named %(name)s (names are not reused, "
                            "also after a revocation).", name=name))
    return name


def checked_days(days: int | str | None) -> int | None:
    if days is None or str(days).strip() == "":
        return None
    try:
        value = int(str(days).strip())
    except ValueError:
        value = 0
    if not 1 <= value <= DAYS_MAX:
        raise ApiKeyError(_("Days until expiry: a whole number from 1 to %(max)s, or empty for "
                            "no expiry.", max=DAYS_MAX))
    return value


def active_user(username: str | None) -> User:
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None:
        raise ApiKeyError(_("There is no user %(name)s.", name=username or ""))
    if not user.active:
        raise ApiKeyError(_("The user %(name)s is disabled.", name=user.username))
    return user


def create(username: str | None, name: str | None, expires_days: int | str | None,
           created_by: int | None) -> tuple[ApiKey, str]:
    """A new key for a user (committed); returns the row and the key, which is not kept."""
    user, name, days = active_user(username), checked_name(name), checked_days(expires_days)
    secret = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(user=user, name=name, prefix=secret[:len(PREFIX) + SHOWN], key_hash=digest(secret),
                 created_by=created_by, expires_at=utc_now() + dt.timedelta(days=days) if days else None)
    db.session.add(key)
    try:
        db.session.commit()  # the audit trigger logs it, with who acts
    except IntegrityError:  # the same name, created at the same moment elsewhere
        db.session.rollback()
        raise ApiKeyError(_("There is already an API key named %(name)s (names are not reused, "
                            "also after a revocation).", name=name)) from None
    return key, secret


def named(name: str) -> ApiKey:
    key = db.session.scalar(select(ApiKey).where(ApiKey.name == name))
    if key is None:
        raise ApiKeyError(_("There is no API key named %(name)s.", name=name))
    return key


def revoke(key: ApiKey) -> bool:
    """Refuse the key from now on (committed); False when it was revoked already."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utc_now()
    db.session.commit()  # the audit trigger logs it, with who acts
    return True


def listing() -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.api_key_id.desc())))


def authenticate(secret: str) -> User:
    """The user a key acts as; raises CredentialRefused (a 401) for an unknown, revoked or expired
    key or a disabled user. Notes the key's use (at most once a minute) and its first use of the day."""
    key = db.session.scalar(select(ApiKey).options(lazyload(ApiKey.creator))
                            .where(ApiKey.key_hash == digest(secret)))
    if key is None:
        raise bearer.CredentialRefused(bearer.INVALID, "unknown key")
    now = utc_now()
    if key.revoked_at is not None:
        raise bearer.CredentialRefused(bearer.REVOKED, "revoked")
    if status(key, now) == "expired":
        raise bearer.CredentialRefused(bearer.EXPIRED, "expired")
    user = key.user
    if not user.active:
        raise bearer.CredentialRefused(bearer.DISABLED, "user disabled")
    first_today = key.last_used_at is None or key.last_used_at.date() < now.date()
    if db.session.execute(_TOUCH, {"id": key.api_key_id}).rowcount:
        # one request wins the row's update: it alone logs the day's first use
        if first_today:
            record("api key used", {"name": key.name, "prefix": key.prefix, "ip": client_address()},
                   user_id=user.user_id, table="api_keys", record_key=key.api_key_id, commit=False)
        db.session.commit()
    return user
