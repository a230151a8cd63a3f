"""Field changes run as the schema owner: one transaction each, audited, bumping the schema version.

The runtime role has no DDL (and only reads the catalogue): a change opens its own connection
as the schema owner (`owner_engine`) and in one transaction alters the table, writes the
catalogue row, an audit log entry naming the acting user, and bumps the schema version, so
every worker sees the change together with the column. A short lock timeout keeps ALTER TABLE
from queueing behind a long query (and every other query behind it); it is retried a few times.
"""
from __future__ import annotations

import json
import time
from typing import Callable, Mapping, Optional, TypeVar

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from psycopg import errors as pg_errors
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from app.audit.context import SET_ACTOR, current_actor
from app.extensions import db
from app.fields.catalog import FieldDef, fields_for
from app.fields.rules import FieldError
from app.ops.database import owner_engine

LOCK_TIMEOUT = "2s"
LOCK_ATTEMPTS = 3
T = TypeVar("T")


def config_of(config: Optional[Mapping]) -> Mapping:
    return config if config is not None else current_app.config


def release_session() -> None:
    """End the app session's transaction: ALTER TABLE and concurrent index builds wait for open ones."""
    if has_app_context():
        db.session.commit()


def refusal_of(error: BaseException | None) -> FieldError | None:
    """What PostgreSQL's refusal means for the person changing a field, when it is theirs to fix."""
    if isinstance(error, (pg_errors.DuplicateColumn, pg_errors.UniqueViolation)):  # another admin was quicker
        return FieldError(_l("The table already has this column: reload the page."))
    if isinstance(error, pg_errors.InsufficientPrivilege):  # no owner-role URL on an external server
        return FieldError(_l("The database refused the change: the app needs the owner role's URL "
                             "(MIGRATION_DATABASE_URL) to change tables."))
    return None


def as_owner(work: Callable[[Connection], T], config: Optional[Mapping] = None) -> T:
    """`work(conn)` in one owner transaction acting as the current user; retried when a lock is not free."""
    release_session()
    with owner_engine(config_of(config)) as engine:
        for attempt in range(1, LOCK_ATTEMPTS + 1):
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    conn.exec_driver_sql(SET_ACTOR, current_actor())
                    # one field change at a time, across app servers (two starting at once both sync)
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('crm_custom_fields'))"))
                    return work(conn)
            except DBAPIError as exc:
                refusal = refusal_of(exc.orig)
                if refusal is not None:
                    raise refusal from None
                if not isinstance(exc.orig, pg_errors.LockNotAvailable):
                    raise
                if attempt == LOCK_ATTEMPTS:
                    raise FieldError(_l("The table is busy with a long task: try again in a moment.")) from None
                time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def log_change(conn: Connection, action: str, field_id: int, details: dict) -> None:
    """The audit log's entry for a field change (the catalogue row's own change is logged by its trigger)."""
    conn.execute(text("INSERT INTO logs (user_id, action, table_name, record_key, description) VALUES "
                      "(NULLIF(current_setting('crm.user_id', true), '')::integer, :action, 'custom_fields', "
                      ":key, :description)"),
                 {"action": action, "key": str(field_id),
                  "description": json.dumps({**details, "via": current_actor()[1]}, ensure_ascii=False)})


def bump_version(conn: Connection) -> int:
    """The schema version, one up, in the change's transaction; a NOTIFY tells listeners at commit."""
    version = conn.execute(text("UPDATE crm_schema_version SET version = version + 1, changed_at = now() "
                                "WHERE id = 1 RETURNING version")).scalar_one()
    conn.execute(text("SELECT pg_notify('crm_schema_version', :v)"), {"v": str(version)})
    return version


def find(conn: Connection, table: str, column: str) -> FieldDef:
    """The catalogue's field, or FieldError."""
    found = [f for f in fields_for(table, include_hidden=True, conn=conn) if f.column_name == column]
    if not found:
        raise FieldError(_l("%(table)s has no custom field %(name)s.", table=table, name=column))
    return found[0]
