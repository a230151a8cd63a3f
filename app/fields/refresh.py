"""Every worker picks up a field change within seconds: a throttled check of the schema version per request.

Each process compares `crm_schema_version.version`, and a digest of the CRM tables' columns in
pg_attribute, with those its screens were derived from, at most once per CHECK_EVERY seconds
(one small read in the request's own transaction, so no other request pays anything). When
either changed, the extra columns are reflected and mapped again (app/fields/reflect.py) and the
app's screens and APIs re-derived by the callback the factory registered (the views are not
imported here: app/ never imports views/). The digest notices a column a DBA dropped by hand,
which bumps no version; a request that meets the drop before the check does (a statement naming
the column fails with SQLSTATE 42703) reflects at once and is answered again (`retry_dropped`).
"""
from __future__ import annotations

import logging
import re
import threading
import time
from typing import Callable

from flask import Flask, Response, abort, current_app, g, request
from flask_babel import gettext as _
from psycopg import errors as pg_errors
from sqlalchemy import literal_column, select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.fields import reflect
from app.fields.ddl import lit
from app.models.custom_field import CrmSchemaVersion

logger = logging.getLogger(__name__)
CHECK_EVERY = 1.0  # seconds between two checks of one process (the issue allows "within seconds")
EXTENSION = "crm_schema_watch"
GENERATION = {"mapped": 0}  # bumped each time the models' extra columns change (process-wide: models are)
# the columns of the CRM tables, digested: it changes when a column is added or dropped by hand
COLUMNS_DIGEST = literal_column(
    "(SELECT md5(string_agg(attrelid::text || ':' || attnum, ',' ORDER BY attrelid, attnum)) FROM pg_attribute"
    f" WHERE attrelid IN ({', '.join(f'{lit(name)}::regclass' for name in reflect.MODELS)}) AND attnum > 0"
    " AND NOT attisdropped)")
MISSING_COLUMN = re.compile(r'column (?:"?\w+"?\.)?"?(\w+)"? does not exist')


def schema_state() -> tuple[int, str]:
    """The schema version and the columns' digest, in one SELECT (which the audit context binds no actor for)."""
    version, digest = db.session.execute(select(CrmSchemaVersion.version, COLUMNS_DIGEST)).one()
    return version, digest


class SchemaWatch:
    """One app's view of the schema: the version its screens show, when it last looked, how to re-derive."""

    def __init__(self, rederive: Callable[[Flask], None]) -> None:
        self.rederive = rederive
        self.version: int | None = None
        self.digest: str | None = None
        self.generation = GENERATION["mapped"]  # the screens were derived at import from the same models
        self.checked_at = float("-inf")
        self.lock = threading.Lock()

    def due(self) -> bool:
        return time.monotonic() - self.checked_at >= CHECK_EVERY

    def refresh(self, app: Flask, force: bool = False) -> bool:
        """Reflect and re-derive when the version changed (or `force`); True when the screens changed."""
        with self.lock:
            self.checked_at = time.monotonic()
            version, digest = schema_state()
            if (version, digest) == (self.version, self.digest) and self.generation == GENERATION["mapped"] \
                    and not force:
                return False  # (another app of this process, on another database, may have mapped: tests)
            found = reflect.read_schema(db.session.connection())
            if reflect.apply(found, [db.engine]):
                GENERATION["mapped"] += 1
            self.version, self.digest = found.version, digest
            if self.generation == GENERATION["mapped"]:
                return False
            self.rederive(app)
            self.generation = GENERATION["mapped"]
            return True



def init_schema_watch(app: Flask, rederive: Callable[[Flask], None]) -> None:
    """Register the watch and reflect this database's columns now, before anything uses the models.

    The factory passes the function that re-derives the app's screens and APIs. Without a
    database (not yet created or migrated) the models keep their declared columns and the
    first request reflects.
    """
    watch = app.extensions[EXTENSION] = SchemaWatch(rederive)
    try:
        with app.app_context():
            watch.refresh(app, force=True)
    except SQLAlchemyError:
        logger.info("custom fields: no database to reflect yet; the first request will")
        if reflect.apply(reflect.Reflected(0)):
            GENERATION["mapped"] += 1
            # the view classes are shared by every app of the process: derived again with the models, or the
            # next app's views would be built from columns the models no longer map
            watch.rederive(app)
        watch.generation = GENERATION["mapped"]
        watch.version = None


def check_schema_version() -> None:
    """Request hook: at most once a second per process, re-derive the screens when the schema changed."""
    watch: SchemaWatch | None = current_app.extensions.get(EXTENSION)
    if watch is not None and watch.due():
        watch.refresh(current_app)


def refresh_now(app: Flask) -> bool:
    """Reflect now, outside a request: a command that must see every column (`crm rotate-key`)."""
    watch: SchemaWatch | None = app.extensions.get(EXTENSION)
    if watch is None:
        return False
    with app.app_context():
        return watch.refresh(app, force=True)


def dropped_extra(exc: BaseException) -> str | None:
    """The mapped extra column a failed statement named that the table no longer has (dropped by hand)."""
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, pg_errors.UndefinedColumn):
        return None
    named = MISSING_COLUMN.search(orig.diag.message_primary or "")
    mapped = {name for model in reflect.MODELS.values() for name in reflect.mapped_extras(model)}
    return named.group(1) if named and named.group(1) in mapped else None


def retry_dropped(exc: BaseException) -> Response | None:
    """After a statement failed on a column dropped by hand: reflect now and answer the request again (once).

    A GET is dispatched again; a change (POST) is not repeated (its transaction was rolled back):
    a 409 asks the user to send it again. None when the error is not about a dropped extra column.
    """
    watch: SchemaWatch | None = current_app.extensions.get(EXTENSION)
    column = dropped_extra(exc)
    if watch is None or column is None or g.get("crm_dropped_retry"):
        return None
    g.crm_dropped_retry = True
    db.session.rollback()
    logger.warning("custom fields: column %s was dropped by hand; reflecting again", column)
    watch.refresh(current_app, force=True)
    if request.method not in ("GET", "HEAD"):
        abort(409, description=_("A column of this table was just removed: check the form and send it again."))
    return current_app.make_response(current_app.dispatch_request())
