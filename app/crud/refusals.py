"""Refusals of the database as messages people can act on: the screens flash them, the API answers 4xx."""
from __future__ import annotations

from typing import Any

from flask_appbuilder.exceptions import DatabaseException
from flask_babel import gettext as _
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError

from app.i18n.labels import label_for


class UserFacingError(DatabaseException):
    """A refusal whose message is safe and useful to show (screens flash it, the API returns 422)."""


def refuse(message: str) -> UserFacingError:
    # FAB's API reports `Database exception occurred: {__cause__}`: make the cause the message
    # itself rather than the SQL error (already logged by FAB's interface).
    error = UserFacingError(message)
    error.__cause__ = ValueError(message)
    return error


def dependents(item: Any) -> list[tuple[str, int]]:
    """(relationship, count>0) for each one-to-many whose rows block deleting `item`."""
    from app.extensions import db

    found = []
    mapper = db.inspect(type(item))
    for rel in mapper.relationships:
        if rel.direction.name != "ONETOMANY" or rel.passive_deletes != "all":
            continue
        child = rel.mapper.class_
        condition = [remote == getattr(item, local.key) for local, remote in rel.local_remote_pairs]
        if db.session.scalar(select(exists().where(*condition).select_from(child))):
            # the related screen's title, as the user reads it ("contacts", "联系人")
            found.append(_(label_for(rel.mapper.local_table.name)).lower())
    return found


OUT_OF_SCOPE = "42501"  # insufficient_privilege: a row-level policy refused the row (migration 0026)


def out_of_scope(exc: BaseException) -> bool:
    """Whether PostgreSQL refused a write under row-level security: the row would be outside the user's scope."""
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) == OUT_OF_SCOPE


def scope_message() -> str:
    return _("This change would put the record outside your data scope (an owner whose records you do not "
             "see); nothing was saved.")


def friendly(exc: SQLAlchemyError) -> str:
    """A short message for a database refusal, without SQL or internals."""
    if out_of_scope(exc):
        return scope_message()
    if isinstance(exc, StaleDataError):
        return _("Someone else changed this record at the same time; nothing was saved. Reload and try again.")
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    if isinstance(exc, IntegrityError):
        sqlstate = getattr(orig, "sqlstate", "")
        if sqlstate == "23503":
            return _("This record is still referenced by other records, or refers to one that does not exist.")
        if sqlstate == "23505":
            return _("A record with the same value already exists (%(c)s).", c=constraint)
        if sqlstate == "23514":
            return _("A value is not allowed (%(c)s).", c=constraint)
        if sqlstate == "23502":
            return _("A required value is missing.")
    return _("The database refused the change; nothing was saved.")
