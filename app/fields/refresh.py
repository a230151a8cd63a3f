"""Every worker picks up a field change within seconds: a throttled check of the schema version per request.

Each process compares `crm_schema_version.version` with the one its screens were derived from,
at most once per CHECK_EVERY seconds (one indexed one-row read in the request's own transaction,
so no other request pays anything). When it changed, the extra columns are reflected and mapped
again (app/fields/reflect.py) and the app's screens and APIs re-derived by the callback the
factory registered (the views are not imported here: app/ never imports views/).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.fields import reflect
from app.fields.catalog import schema_version

logger = logging.getLogger(__name__)
CHECK_EVERY = 1.0  # seconds between two checks of one process (the issue allows "within seconds")
EXTENSION = "crm_schema_watch"
GENERATION = {"mapped": 0}  # bumped each time the models' extra columns change (process-wide: models are)


class SchemaWatch:
    """One app's view of the schema: the version its screens show, when it last looked, how to re-derive."""

    def __init__(self, rederive: Callable[[Flask], None]) -> None:
        self.rederive = rederive
        self.version: int | None = None
        self.generation = GENERATION["mapped"]  # the screens were derived at import from the same models
        self.checked_at = float("-inf")
        self.lock = threading.Lock()

    def due(self) -> bool:
        return time.monotonic() - self.checked_at >= CHECK_EVERY

    def refresh(self, app: Flask, force: bool = False) -> bool:
        """Reflect and re-derive when the version changed (or `force`); True when the screens changed."""
        with self.lock:
            self.checked_at = time.monotonic()
            version = schema_version()  # a SELECT the audit context does not bind for (a text() might write)
            if version == self.version and self.generation == GENERATION["mapped"] and not force:
                return False  # (another app of this process, on another database, may have mapped: tests)
            found = reflect.read_schema(db.session.connection())
            if reflect.apply(found, [db.engine]):
                GENERATION["mapped"] += 1
            self.version = found.version
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
