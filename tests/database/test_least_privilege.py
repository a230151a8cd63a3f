"""The app runs as crm_app: rows only. DDL, TRUNCATE and rewriting the audit log are refused."""
from __future__ import annotations

import psycopg
import pytest
import sqlalchemy.exc

from app.ops.database import migration_database_url, resolve_database_url
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


def test_embedded_default_uses_runtime_role_and_owner_for_migrations(tmp_path):
    config = {"INSTANCE_DIR": tmp_path, "EMBEDDED_AUTOSTART": False}
    runtime = resolve_database_url(config)
    assert runtime.startswith(f"postgresql+psycopg://{RUNTIME_ROLE}:")
    assert migration_database_url({**config, "SQLALCHEMY_DATABASE_URI": runtime}).startswith(
        f"postgresql+psycopg://{OWNER_ROLE}:")
    passwords = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert passwords == {f"pg-{RUNTIME_ROLE}-password": 0o600, f"pg-{OWNER_ROLE}-password": 0o600}


def test_external_server_urls_runtime_and_owner_are_kept_apart():
    runtime, owner = "postgresql://crm_app:a@db/crm", "postgresql://crm_owner:b@db/crm"
    config = {"DATABASE_URL": runtime, "MIGRATION_DATABASE_URL": owner}
    assert resolve_database_url(config).startswith("postgresql+psycopg://crm_app:")
    assert migration_database_url(config).startswith("postgresql+psycopg://crm_owner:")
    # without MIGRATION_DATABASE_URL, DATABASE_URL is the owner too (single-role set-ups keep working)
    assert migration_database_url({"DATABASE_URL": owner}).startswith("postgresql+psycopg://crm_owner:")
