"""Users made through FAB's security manager, as an admin's Add User would make them."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask import Flask

USER_PASSWORD = "Sales-rep-password-2026"
ROLE_PASSWORD = "Role-user-password-2026"


def add_user(app: Flask, username: str, first_name: str, last_name: str, role: str, password: str) -> None:
    from app.extensions import db

    with app.app_context():
        sm = app.appbuilder.sm
        assert sm.add_user(username, first_name, last_name, f"{username}@example.com", sm.find_role(role),
                           password=password)
        db.session.remove()


def make_user(app: Flask, username: str = "rep", role: str = "Sales Rep", password: str = USER_PASSWORD) -> None:
    add_user(app, username, "Rep", "One", role, password)


def make_role_user(app: Flask, role: str) -> str:
    """A user named after their role ("Sales Rep" -> sales_rep), with ROLE_PASSWORD; returns the username."""
    username = role.lower().replace(" ", "_")
    add_user(app, username, role, "User", role, ROLE_PASSWORD)
    return username


ADMIN_ID = "(SELECT user_id::text FROM users WHERE username = 'admin')"


def act_as(conn, username: str) -> None:
    """Act as `username` for the rest of `conn`'s transaction (the row-level policies read crm.user_id)."""
    from app.audit.context import act_as_user

    act_as_user(conn, username)


def user_actor(app: Flask, username: str = "admin") -> tuple[str, str]:
    """The user as `app.audit.context.acting_as` takes it: for ORM writes and requests' reads outside a request."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        user_id = db.session.scalar(text("SELECT user_id::text FROM users WHERE username = :u"), {"u": username})
        db.session.remove()
    return (user_id, "test")


@contextmanager
def as_admin(app: Flask) -> Iterator[None]:
    """An app context acting as the admin, who sees and writes every record (row-level security)."""
    from app.audit.context import acting_as

    actor = user_actor(app)
    with app.app_context(), acting_as(actor):
        yield


def sql_as(app: Flask, username: str = "admin"):
    """Plain SQL as the runtime role acting as `username` (own transaction, committed); returns rows.

    Row-level security (migration 0026) shows a statement without a user no record and lets it
    write none; the admin sees and writes every record, a rep their own.
    """
    from sqlalchemy import text

    from app.extensions import db

    def run(statement: str, **params):
        with app.app_context(), db.engine.begin() as conn:
            act_as(conn, username)
            result = conn.execute(text(statement), params)
            return result.fetchall() if result.returns_rows else []

    return run
