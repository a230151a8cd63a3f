"""One database and app per test module for the custom-field tests (DDL there is cheap, cloning is not)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from tests.support.apps import TEMPLATE, make_app
from tests.support.postgres import Server


@contextmanager
def module_app(pg: Server, name: str) -> Iterator[Flask]:
    """An app on its own clone of the template, dropped afterwards."""
    from app.extensions import db

    application = make_app(pg, pg.create_database(name, template=TEMPLATE))
    try:
        yield application
    finally:
        with application.app_context():
            db.engine.dispose()
        pg.drop_database(name)


def owner_runner(pg: Server, name: str):
    """Plain SQL as the schema owner on the module's database: `run(sql, **params) -> rows`."""
    engine = create_engine(pg.url(name))

    def run(statement: str, **params):
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return result.fetchall() if result.returns_rows else []

    run.engine = engine
    return run


@pytest.fixture(scope="module")
def fapp(pg: Server, request) -> Iterator[Flask]:
    """The module's app, on the database named by the module's `DB`."""
    with module_app(pg, request.module.DB) as application:
        yield application


@pytest.fixture(scope="module")
def owner(pg: Server, fapp: Flask, request):
    """Plain SQL as the schema owner on the module's database."""
    run = owner_runner(pg, request.module.DB)
    yield run
    run.engine.dispose()
