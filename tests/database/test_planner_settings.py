"""The index-lookup settings are in force for the statements read with them only; a failed one keeps its error."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

NAMES = ("enable_seqscan", "work_mem", "max_parallel_workers_per_gather", "plan_cache_mode")


def _settings(session) -> dict[str, str]:
    return {name: session.execute(text("SELECT current_setting(:n)"), {"n": name}).scalar() for name in NAMES}


def test_the_settings_are_in_force_inside_and_put_back_after_a_statement_that_ran(app):
    from app.extensions import db
    from app.lists.planner import INDEX_LOOKUP_SETTINGS, settings_in_force

    with app.app_context():
        before = _settings(db.session)
        assert before["enable_seqscan"] == "on"
        with settings_in_force(db.session, INDEX_LOOKUP_SETTINGS):
            inside = _settings(db.session)
        assert inside == {name: INDEX_LOOKUP_SETTINGS[name] for name in NAMES}
        assert _settings(db.session) == before  # the same transaction: SET LOCAL undone by hand
        db.session.rollback()


def test_a_failed_statement_raises_its_own_error_not_one_from_putting_the_settings_back(app):
    from app.extensions import db
    from app.lists.planner import INDEX_LOOKUP_SETTINGS, settings_in_force

    with app.app_context():
        with pytest.raises(DBAPIError) as raised:
            with settings_in_force(db.session, INDEX_LOOKUP_SETTINGS):
                db.session.execute(text("SELECT 1 / (SELECT count(*) FROM customers WHERE false)"))
        # a `finally` putting them back would have raised InFailedSqlTransaction from the aborted transaction
        assert isinstance(raised.value.orig, psycopg.errors.DivisionByZero)
        db.session.rollback()
        assert _settings(db.session)["enable_seqscan"] == "on"
