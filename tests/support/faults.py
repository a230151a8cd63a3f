"""Faults the database puts into a request: a statement it cancels."""
from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import OperationalError


def stopped_statement(app: Flask, path: str, **headers):
    """The answer to a request whose statement the database cancels (statement_timeout)."""
    from app.extensions import db

    with app.test_request_context(path, headers=headers):
        app.preprocess_request()
        db.session.execute(text("SET LOCAL statement_timeout = 10"))
        with pytest.raises(OperationalError) as stopped:
            db.session.execute(text("SELECT pg_sleep(2)"))
        response = app.handle_user_exception(stopped.value)
        assert db.session.execute(text("SELECT 1")).scalar() == 1  # the session was rolled back, usable
        return response
