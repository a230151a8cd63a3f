"""The live database matches the seed design (docs/seed, a copy of shared/seed)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[2] / "docs" / "seed" / "crm-database-design.zh.md"
TABLE_NAMES = {"Customers": "customers", "Contacts": "contacts", "Leads": "leads",
               "Opportunities": "opportunities", "Activities": "activities", "Users": "users",
               "Roles": "roles", "Permissions": "permissions", "RolePermissions": "role_permissions",
               "ServiceTickets": "service_tickets", "Reports": "reports", "Logs": "logs"}
# seed type -> information_schema data_type (and length where the seed gives one)
TYPES = {"SERIAL": "integer", "INTEGER": "integer", "TEXT": "text", "DATE": "date", "JSONB": "jsonb",
         "TIMESTAMP": "timestamp without time zone", "DECIMAL": "numeric"}
# the contract's one planned exception: financial amounts are stored as ciphertext
ENCRYPTED = {("customers", "revenue"), ("opportunities", "value")}


def seed_tables() -> dict[str, dict[str, str]]:
    """Parse the seed's markdown: {table: {column: seed type}}."""
    tables: dict[str, dict[str, str]] = {}
    current = None
    for line in SEED.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#{3,4} .*[（(](\w+)[）)]", line)
        if heading and heading.group(1) in TABLE_NAMES:
            current = TABLE_NAMES[heading.group(1)]
            tables[current] = {}
            continue
        row = re.match(r"\|\s*([a-z_]+)\s*\|\s*([A-Z]+(?:\(\d+\))?)\s*\|", line)
        if current and row:
            tables[current][row.group(1)] = row.group(2)
    return tables


def test_seed_parses_into_twelve_tables():
    tables = seed_tables()
    assert set(tables) == set(TABLE_NAMES.values())
    assert tables["customers"]["revenue"] == "DECIMAL"
    assert tables["contacts"]["phone"] == "VARCHAR(50)"


@pytest.mark.parametrize("table", sorted(TABLE_NAMES.values()))
def test_live_table_has_every_seed_column_with_seed_type(sql, table):
    live = {r.column_name: r for r in sql(
        "SELECT column_name, data_type, character_maximum_length, column_default, is_nullable "
        "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = :t", t=table)}
    assert live, f"table {table} is missing"
    for column, seed_type in seed_tables()[table].items():
        assert column in live, f"{table}.{column} is missing"
        info = live[column]
        length = re.search(r"\((\d+)\)", seed_type)
        if length:
            assert info.data_type == "character varying", (table, column, info.data_type)
            assert info.character_maximum_length == int(length.group(1)), (table, column)
        elif (table, column) in ENCRYPTED:
            assert info.data_type == "bytea", (table, column, info.data_type)
        else:
            assert info.data_type == TYPES[seed_type], (table, column, info.data_type)
        if seed_type == "SERIAL":
            assert info.column_default and info.column_default.startswith("nextval("), (table, column)


def test_no_fab_tables_exist(sql):
    names = {r.table_name for r in sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert not {n for n in names if n.startswith("ab_")}


def test_every_foreign_key_is_indexed(sql):
    unindexed = sql("""
        SELECT c.conrelid::regclass::text AS tbl, a.attname
        FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND NOT EXISTS (
            SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
    """)
    assert unindexed == []


def test_reports_data_is_jsonb(sql):
    sql("INSERT INTO reports (report_type, data) VALUES ('t', '{\"a\": [1, 2]}')")
    assert sql("SELECT data -> 'a' ->> 1 FROM reports WHERE report_type = 't'")[0][0] == "2"


def test_timestamps_filled_by_database_and_refreshed_by_plain_update(sql):
    (cid, created, updated, version), = sql(
        "INSERT INTO customers (name) VALUES ('Plain SQL Ltd') "
        "RETURNING customer_id, created_at, updated_at, version")
    assert created is not None and updated is not None and version == 1
    sql("SELECT pg_sleep(0.01)")
    (updated2, version2), = sql(
        "UPDATE customers SET industry = 'Retail' WHERE customer_id = :c RETURNING updated_at, version", c=cid)
    assert updated2 > updated and version2 == 2


@pytest.mark.parametrize("statement", [
    "INSERT INTO leads (status) VALUES ('maybe')",
    "INSERT INTO opportunities (customer_id, name, stage) VALUES ({c}, 'x', 'closing')",
    "INSERT INTO service_tickets (customer_id, subject, status) VALUES ({c}, 'x', 'waiting')",
    "INSERT INTO service_tickets (customer_id, subject, priority) VALUES ({c}, 'x', 'critical')",
    "INSERT INTO activities (customer_id, type, subject) VALUES ({c}, 'party', 'x')",
    "INSERT INTO opportunities (customer_id, name, value_band) VALUES ({c}, 'x', 2)",
    "INSERT INTO customers (name, revenue, revenue_band) VALUES ('x', '\\x01'::bytea, 12)",
    "INSERT INTO contacts (customer_id, first_name, last_name, email) VALUES ({c}, 'a', 'b', 'not-an-email')",
    "INSERT INTO contacts (customer_id, first_name, last_name) VALUES (999999, 'a', 'b')",
])
def test_database_refuses_undocumented_values(sql, statement):
    import sqlalchemy.exc

    (cid,), = sql("INSERT INTO customers (name) VALUES ('Check Co') RETURNING customer_id")
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        sql(statement.format(c=cid))


@pytest.mark.parametrize("child", [
    "INSERT INTO contacts (customer_id, first_name, last_name) VALUES ({c}, 'a', 'b')",
    "INSERT INTO opportunities (customer_id, name) VALUES ({c}, 'deal')",
    "INSERT INTO service_tickets (customer_id, subject) VALUES ({c}, 'help')",
])
def test_deleting_customer_with_children_is_restricted(sql, child):
    import sqlalchemy.exc

    (cid,), = sql("INSERT INTO customers (name) VALUES ('Parent Co') RETURNING customer_id")
    sql(child.format(c=cid))
    with pytest.raises(sqlalchemy.exc.IntegrityError, match="foreign key"):
        sql("DELETE FROM customers WHERE customer_id = :c", c=cid)
    assert sql("SELECT count(*) FROM customers WHERE customer_id = :c", c=cid)[0][0] == 1
