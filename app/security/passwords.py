"""Password policy (OWASP ASVS 4.0.3 V2.1): length, not the username, not a common password, not one character."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from flask import current_app, g, has_request_context, request
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_babel import gettext as _
from werkzeug.security import generate_password_hash

from app.security import lockout

from app.security import sessions

COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt")
MIN_LENGTH = 12
MAX_LENGTH = 128  # ASVS 2.1.2 allows at least 64; scrypt input stays bounded


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


AFFIX = frozenset("0123456789!@#$%^&*()-_=+.?~ ")  # what people put around a word to "strengthen" it
MIN_WORD = 4  # shorter cores ("abc1234567890") are judged by length, not the list


def _cores(password: str) -> set[str]:
    """The password and every part of it left after removing digits and symbols from its ends."""
    word = password.lower()
    lead = len(word) - len(word.lstrip("".join(AFFIX)))
    trail = len(word) - len(word.rstrip("".join(AFFIX)))
    return {word[i:len(word) - j] for i in range(min(lead, len(word)) + 1)
            for j in range(min(trail, len(word) - i) + 1) if len(word) - i - j >= MIN_WORD} | {word}


def is_common(password: str) -> bool:
    """On the list, also with digits or symbols around it ("password1234!", "2026qwerty")."""
    return not _cores(password).isdisjoint(common_passwords())


def is_username_repeated(password: str, username: str | None) -> bool:
    """The username once or more ("bob", "bobbobbob"), also with digits or symbols around it."""
    name = (username or "").strip().lower()
    if not name:
        return False
    return any(len(core) % len(name) == 0 and core == name * (len(core) // len(name))
               for core in _cores(password.strip()))


def password_problems(password: str, username: str | None = None) -> list[str]:
    """What is wrong with a new password, in words; empty when it is acceptable."""
    min_length = current_app.config.get("PASSWORD_MIN_LENGTH", MIN_LENGTH)
    problems = []
    if len(password) < min_length:
        problems.append(_("Use at least %(n)s characters.", n=min_length))
    if len(password) > MAX_LENGTH:
        problems.append(_("Use at most %(n)s characters.", n=MAX_LENGTH))
    if password and len(set(password)) == 1:
        problems.append(_("The password must not be one character repeated."))
    if is_username_repeated(password, username):
        problems.append(_("The password must not be the username, repeated or not."))
    if is_common(password):
        problems.append(_("This password is on the list of commonly used passwords "
                          "(also with digits or symbols added)."))
    return problems


def _username_in_request() -> str | None:
    """Whose password a FAB form is setting: the add form's username, the reset's user, or me."""
    if not has_request_context():
        return None
    if request.form.get("username"):
        return request.form["username"]
    from app.models import User
    from app.extensions import db

    pk = request.args.get("pk")
    if pk and pk.isdigit():
        user = db.session.get(User, int(pk))
        return user.username if user else None
    user = g.get("user")
    return getattr(user, "username", None)


def fab_password_validator(password: str) -> None:
    """FAB_PASSWORD_COMPLEXITY_VALIDATOR: used by the users, reset-password and user API forms."""
    problems = password_problems(password or "", _username_in_request())
    if problems:
        raise PasswordComplexityValidationError(" ".join(problems))


def hash_password(password: str) -> str:
    """scrypt (FAB_PASSWORD_HASH_METHOD) with a random salt (ASVS 2.4.1)."""
    return generate_password_hash(
        password, method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
        salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16))


def set_password(user, password: str) -> None:
    """Store a new password; the user's API tokens issued before now stop working."""
    user.password_hash = hash_password(password)
    user.jwt_valid_after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def change_password(user, password: str, keep_current_session: bool = False) -> None:
    """set_password on an existing account, which also ends its sessions and lifts its lockout."""
    set_password(user, password)
    lockout.unlock(user.user_id)
    sessions.end_all_of(user.user_id, keep_current=keep_current_session)
