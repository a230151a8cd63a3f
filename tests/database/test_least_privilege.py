"""The app runs as crm_app: rows only. DDL, TRUNCATE and rewriting the audit log are refused."""
from __future__ import annotations

import psycopg
import pytest
import sqlalchemy.exc

from app.ops.embedded_db import OWNER_ROLE, RUNTIME_ROLE

REFUSED = [
    "DROP TABLE customers",
    "DROP TABLE logs",
    "ALTER TABLE customers ADD COLUMN note text",
    "ALTER TABLE opportunities ALTER COLUMN value TYPE text",
    "TRUNCATE customers",
    "TRUNCATE logs",
    "CREATE TABLE stolen (x int)",
    "CREATE INDEX ix_sneaky ON customers (name)",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE ROLE intruder",
    "DROP TRIGGER customers_touch ON customers",
    "UPDATE logs SET description = 'rewritten'",
    "DELETE FROM logs",
    "SELECT * FROM alembic_version",
]


def test_requests_run_as_the_runtime_role(sql):
    assert sql("SELECT current_user")[0][0] == RUNTIME_ROLE
    attrs = sql("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
                "FROM pg_roles WHERE rolname = current_user")[0]
    assert not any(attrs)


@pytest.mark.parametrize("statement", REFUSED)
def test_runtime_role_cannot_change_the_schema_or_the_log(sql, statement):
    sql("INSERT INTO logs (action, description) VALUES ('keep', 'me')")
    with pytest.raises(sqlalchemy.exc.ProgrammingError) as refused:
        sql(statement)
    assert refused.value.orig.sqlstate == "42501", refused.value.orig  # insufficient_privilege
    assert sql("SELECT action, description FROM logs WHERE action = 'keep'") == [("keep", "me")]


def test_runtime_role_cannot_create_databases_or_roles(pg, app):
    from sqlalchemy.engine import make_url

    name = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    with psycopg.connect(pg.libpq(name, RUNTIME_ROLE), autocommit=True) as conn:
        for statement in ("CREATE DATABASE other", "CREATE ROLE intruder LOGIN", "CREATE SCHEMA side"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_runtime_role_reads_and_writes_rows_and_appends_to_the_log(sql):
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Rows Co') RETURNING customer_id")
    sql("UPDATE customers SET industry = 'Retail' WHERE customer_id = :c", c=cid)
    sql("INSERT INTO logs (action) VALUES ('row test')")
    assert sql("SELECT count(*) FROM logs WHERE action = 'row test'")[0][0] == 1
    sql("DELETE FROM customers WHERE customer_id = :c", c=cid)


def test_migrations_grant_future_tables_to_the_runtime_role(pg, database, sql):
    """Default privileges: a table a later migration creates is usable (rows only) at once."""
    from sqlalchemy.engine import make_url

    with psycopg.connect(pg.libpq(make_url(database).database, OWNER_ROLE), autocommit=True) as owner:
        owner.execute("CREATE TABLE later_feature (id serial PRIMARY KEY, note text)")
    sql("INSERT INTO later_feature (note) VALUES ('ok')")
    with pytest.raises(sqlalchemy.exc.ProgrammingError):
        sql("DROP TABLE later_feature")
