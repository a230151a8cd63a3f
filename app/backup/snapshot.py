"""Per-table row counts and content hashes, recorded at backup time and compared by drills."""
from __future__ import annotations

import psycopg
from psycopg import sql

TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2
"""
# An order-independent hash of the table's rows: two 64-bit sums of per-row md5 halves
# (no sort, no giant string: it runs in constant memory on millions of rows).
ROW_HASH = """
SELECT count(*),
       coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint), 0)::text || ':' ||
       coalesce(sum(('x' || substr(md5(t::text), 17, 16))::bit(64)::bigint), 0)::text
FROM {} AS t
"""


def table_stats(conn: psycopg.Connection) -> dict[str, dict]:
    """{schema.table: {rows, hash}} for every table of the connected database, in one snapshot."""
    stats: dict[str, dict] = {}
    for schema, name in conn.execute(TABLES).fetchall():
        rows, digest = conn.execute(sql.SQL(ROW_HASH).format(sql.Identifier(schema, name))).fetchone()
        stats[f"{schema}.{name}"] = {"rows": rows, "hash": digest}
    return stats


def consistent_stats(conninfo: str) -> dict[str, dict]:
    with psycopg.connect(conninfo) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return table_stats(conn)


def differences(recorded: dict[str, dict], restored: dict[str, dict], skip: set[str]) -> list[str]:
    """Readable differences between recorded and restored stats; tables in `skip` are not compared."""
    problems = []
    for table in sorted(set(recorded) | set(restored)):
        if table in skip:
            continue
        want, got = recorded.get(table), restored.get(table)
        if want is None:
            problems.append(f"{table}: in the restored database but not recorded at backup time")
        elif got is None:
            problems.append(f"{table}: missing from the restored database")
        elif want["rows"] != got["rows"]:
            problems.append(f"{table}: {got['rows']} rows restored, {want['rows']} at backup time")
        elif want["hash"] != got["hash"]:
            problems.append(f"{table}: same row count ({got['rows']}) but different content")
    return problems
