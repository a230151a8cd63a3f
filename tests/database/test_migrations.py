"""One Alembic chain builds the schema from empty, and walks back down and up again."""
from __future__ import annotations

from contextlib import contextmanager

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.support.apps import make_app


def _tables(pg, name):
    return {r[0] for r in pg.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", database=name)}


@contextmanager
def _empty_database(pg, name: str):
    """An app on a new, empty database, inside its app context; dropped afterwards."""
    app = make_app(pg, pg.create_database(name))
    try:
        with app.app_context():
            yield
            from app.extensions import db

            db.engine.dispose()
    finally:
        pg.drop_database(name)


def test_empty_database_to_head_then_down_and_up(pg):
    name = "crm_migration_test"
    with _empty_database(pg, name):
        upgrade()
        assert {"customers", "role_permissions", "logs", "alembic_version"} <= _tables(pg, name)
        downgrade(revision="base")
        assert _tables(pg, name) == {"alembic_version"}
        upgrade()
        assert "service_tickets" in _tables(pg, name)


def test_models_and_migrations_agree(app):
    """Autogenerate finds nothing to do: the models are exactly what migrations build."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                db.metadata)
    assert diff == []


def test_indexes_carry_the_columns_the_models_include(app):
    """Autogenerate does not compare INCLUDE columns: every index's included columns, models against database."""
    from app.extensions import db

    declared = {index.name: sorted(index.dialect_options["postgresql"]["include"] or [])
                for table in db.metadata.tables.values() for index in table.indexes}
    with app.app_context(), db.engine.connect() as conn:
        built = dict(conn.execute(text(
            "SELECT c.relname, coalesce(array_agg(a.attname ORDER BY a.attname) FILTER (WHERE k.n > i.indnkeyatts), "
            "'{}') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE c.relname = ANY(:names) GROUP BY c.relname"), {"names": list(declared)}).all())
    assert {name: sorted(built.get(name, [])) for name in declared} == declared
    assert declared["ix_activities_customer_id_activity_date"] == ["contact_id"]  # migration 0034
    assert declared["ix_activities_activity_date_sort"] == ["contact_id", "customer_id"]
    assert declared["ix_customers_customer_id_owner_id"] == ["owner_id"]


def test_role_names_differing_only_in_case_are_renamed_not_lost(pg):
    """0016's unique index on lower(role_name): earlier duplicates get the first free " (k)", keeping their rows."""
    name = "crm_migration_roles_test"
    with _empty_database(pg, name):
        upgrade(revision="0014")
        pg.execute("INSERT INTO roles (role_name) VALUES ('Sales Rep'), ('sales rep'), ('SALES REP'), "
                   "('Auditor'), ('Sales Rep (2)')", database=name)
        upgrade()
        assert sorted(r[0] for r in pg.execute("SELECT role_name FROM roles", database=name)) == \
            ["Auditor", "SALES REP (4)", "Sales Rep", "Sales Rep (2)", "sales rep (3)"]
