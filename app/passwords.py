"""Password policy (OWASP ASVS 2.1): length, not the username, not a common password."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flask import current_app, g, has_request_context, request
from flask_appbuilder.exceptions import PasswordComplexityValidationError

COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt"
MIN_LENGTH = 12
MAX_LENGTH = 128  # ASVS 2.1.2 allows at least 64; scrypt input stays bounded


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def is_common(password: str) -> bool:
    """On the list, also after dropping trailing digits and symbols ("password1234!")."""
    word = password.strip().lower()
    stem = word.rstrip("0123456789!@#$%^&*()-_=+.?~ ")
    common = common_passwords()
    return word in common or (len(stem) >= 4 and stem in common)


def password_problems(password: str, username: str | None = None) -> list[str]:
    """What is wrong with a new password, in words; empty when it is acceptable."""
    min_length = current_app.config.get("PASSWORD_MIN_LENGTH", MIN_LENGTH)
    problems = []
    if len(password) < min_length:
        problems.append(f"Use at least {min_length} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    if username and password.strip().lower() == username.strip().lower():
        problems.append("The password must not be the username.")
    if is_common(password):
        problems.append("This password is on the list of commonly used passwords.")
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
