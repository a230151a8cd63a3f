"""The resumable part of a field: its indexes and constraint checks, and `crm fields sync`.

Indexes are built with CREATE INDEX CONCURRENTLY (writes go on meanwhile) outside the
field's transaction. A build that fails or is interrupted leaves an invalid index: the next
`crm fields sync` (also run at every start) drops and rebuilds it, and validates constraints
still NOT VALID. Sync also registers columns a DBA added by hand (source "sync", a label
derived from the name) and forgets catalogue rows whose column a DBA dropped.
"""
from __future__ import annotations

from typing import Mapping, Optional

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from app.fields import ddl
from app.fields.catalog import CRM_TABLES, FieldDef, all_fields
from app.fields.owner import as_owner, bump_version, config_of, log_change, release_session
from app.fields.rules import BAND_SUFFIX, derived_label
from app.ops.database import owner_engine

BUILD_LOCK_TIMEOUT = "60s"  # a concurrent build waits for transactions that hold the table
# PostgreSQL type -> field type, for columns added by hand (others are not registered)
INFERRED = {"text": "text", "varchar": "text", "bpchar": "text", "numeric": "number", "int2": "number",
            "int4": "number", "int8": "number", "float4": "number", "float8": "number", "date": "date",
            "timestamp": "datetime", "timestamptz": "datetime", "bool": "boolean"}


def index_state(conn: Connection, name: str) -> Optional[bool]:
    """True when the index exists and is valid, False when it is invalid (a failed build), None when missing."""
    return conn.execute(text("SELECT x.indisvalid FROM pg_index AS x JOIN pg_class AS c ON c.oid = x.indexrelid "
                             "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
                             "WHERE c.relname = :name AND n.nspname = 'public'"), {"name": name}).scalar()


def unvalidated(conn: Connection, table: str, names: list[str]) -> list[str]:
    """The constraints among `names` still NOT VALID on the table."""
    return list(conn.execute(text("SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) "
                                  "AND conname = ANY(:names) AND NOT convalidated"),
                             {"t": table, "names": names}).scalars())


def short_text(conn: Connection, table: str, column: str) -> bool:
    """The column is a varchar short enough for a B-tree entry (a text field added here, or a DBA's varchar(n))."""
    length = conn.execute(text("SELECT atttypmod - 4 FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
                               "AND attname = :c AND atttypid = 'varchar'::regtype AND atttypmod > 0"),
                          {"t": table, "c": column}).scalar()
    return length is not None and length <= ddl.SORTABLE_TEXT


def finish_field(found: FieldDef, config: Optional[Mapping] = None, drop: list[ddl.IndexDef] = (),
                 announce: bool = True) -> list[str]:
    """Build the field's missing or invalid indexes, drop `drop` ones it no longer needs, validate its checks.

    Never raises for a failed build: it says what is left, and `crm fields sync` resumes it. A build
    moves the schema version on (`announce`): the screens derive again, sortable by a new B-tree.
    """
    release_session()
    table, column = found.table_name, found.column_name
    checks = [c.name for c in ddl.constraints(table, column, found.field_type, found.financial, found.choices)]
    done: list[str] = []
    with owner_engine(config_of(config)) as engine, \
            engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        wanted = ddl.indexes(table, column, found.field_type, found.financial, short_text(conn, table, column))
        conn.exec_driver_sql(f"SET lock_timeout = '{BUILD_LOCK_TIMEOUT}'")
        try:
            for index in drop:
                if index.name not in {w.name for w in wanted} and index_state(conn, index.name) is not None:
                    conn.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {ddl.q(index.name)}")
                    done.append(f"dropped index {index.name}")
            for index in wanted:
                state = index_state(conn, index.name)
                if state is False:  # an interrupted build: start again
                    conn.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {ddl.q(index.name)}")
                if not state:
                    conn.exec_driver_sql(index.create)
                    done.append(f"built index {index.name}")
            for name in unvalidated(conn, table, checks):
                conn.exec_driver_sql(f"ALTER TABLE {ddl.q(table)} VALIDATE CONSTRAINT {ddl.q(name)}")
                done.append(f"validated {name}")
            if any(note.startswith("built") for note in done):
                # a new column has no statistics, and autovacuum gathers none until a tenth of the rows
                # change: the planner would guess 0.5% of rows match a filter by it and walk the list's
                # sort index hoping to meet 25 of them soon (30 s on 10M activities). A sample: ~1 s.
                columns = ", ".join(ddl.q(c) for c in (column, found.band_column) if c)
                conn.exec_driver_sql(f"ANALYZE {ddl.q(table)} ({columns})")
                if announce:
                    bump_version(conn)
        except DBAPIError as exc:
            done.append(f"left for `crm fields sync`: {table}.{column}: {str(exc.orig).strip().splitlines()[0]}")
    return done


def declared_columns(table: str) -> set[str]:
    """The table's columns the models declare (the product's own, never custom fields)."""
    from app.models.base import Model

    return {c.name for c in Model.metadata.tables[table].columns if not c.info.get("custom_field")}


def hand_made(conn: Connection, table: str) -> list[tuple[str, str, Optional[str]]]:
    """(column, PostgreSQL type, linked table) of each column of the table in the database."""
    return [tuple(r) for r in conn.execute(text("""
        SELECT a.attname, t.typname, (SELECT c.confrelid::regclass::text FROM pg_constraint AS c
                                      WHERE c.conrelid = a.attrelid AND c.contype = 'f'
                                        AND c.conkey = ARRAY[a.attnum] LIMIT 1)
        FROM pg_attribute AS a JOIN pg_type AS t ON t.oid = a.atttypid
        WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"""),
        {"t": table})]


def inferred_type(sql_type: str, linked: Optional[str]) -> Optional[str]:
    if linked in CRM_TABLES and sql_type in ("int4", "int8"):
        return f"link:{linked}"
    return INFERRED.get(sql_type)


def _sync_catalogue(conn: Connection) -> list[str]:
    notes: list[str] = []
    known = {(f.table_name, f.column_name): f for f in all_fields(include_hidden=True, conn=conn)}
    for table in CRM_TABLES:
        present = hand_made(conn, table)
        names = {name for name, _t, _l in present}
        bands = {c + BAND_SUFFIX for (t, c), f in known.items() if t == table and f.financial}
        for (t, column), found in known.items():
            if t == table and column not in names:  # dropped by hand: the catalogue forgets it
                conn.execute(text("DELETE FROM custom_fields WHERE field_id = :id"), {"id": found.field_id})
                log_change(conn, "field sync", found.field_id, {"table": table, "column": column, "gone": True})
                notes.append(f"forgot {table}.{column}: its column is gone")
        for column, sql_type, linked in present:
            if column in declared_columns(table) or (table, column) in known or column in bands:
                continue
            field_type = inferred_type(sql_type, linked)
            if field_type is None:
                notes.append(f"skipped {table}.{column}: type {sql_type} has no field type")
                continue
            field_id = conn.execute(text(
                "INSERT INTO custom_fields (table_name, column_name, field_type, label_en, source) "
                "VALUES (:t, :c, :type, :label, 'sync') RETURNING field_id"),
                {"t": table, "c": column, "type": field_type, "label": derived_label(column)}).scalar_one()
            log_change(conn, "field sync", field_id, {"table": table, "column": column, "type": field_type})
            notes.append(f"registered {table}.{column} as {field_type}")
    if any(not n.startswith("skipped") for n in notes):
        bump_version(conn)
    return notes


def sync_fields(config: Optional[Mapping] = None) -> list[str]:
    """Catalogue and tables agree again; every field's indexes and checks are complete. What it did, in lines."""
    notes = as_owner(_sync_catalogue, config)
    with owner_engine(config_of(config)) as engine, engine.connect() as conn:
        fields = all_fields(include_hidden=True, conn=conn)
    built = False
    for found in fields:
        done = finish_field(found, config, announce=False)
        built |= any(note.startswith("built") for note in done)
        notes += done
    if built:  # once for all the fields it finished
        as_owner(bump_version, config)
    return notes
