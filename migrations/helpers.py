"""The steps a migration repeats for each new table: the runtime role's rights, auditing, row-level security.

Each writes the SQL the migrations wrote by hand before (a database migrated from scratch dumps
the same schema, `pg_dump --schema-only`), so a migration says what a table gets, not how.
Imported as `migrations.helpers`: the project's root, where `app` is imported from by env.py, is on
sys.path.
"""
from __future__ import annotations

from typing import Mapping

from alembic import op

RUNTIME_ROLE = "crm_app"


def grant_runtime(privileges: Mapping[str, str], sequences: bool = False) -> None:
    """Least privilege on new tables: take back every row right the default privileges of 0003 gave the
    runtime role, then grant `privileges` (table -> "SELECT, INSERT"; tables with the same rights in one GRANT).

    `sequences`: also USAGE on every sequence (the role inserts rows with serial keys). Nothing on a server
    without the role (an external server whose runtime role is not crm_app).
    """
    grouped: dict[str, list[str]] = {}
    for table, rights in privileges.items():
        grouped.setdefault(rights, []).append(table)
    grants = "".join(f"GRANT {rights} ON {', '.join(tables)} TO {RUNTIME_ROLE}; " for rights, tables in grouped.items())
    if sequences:
        grants += f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {RUNTIME_ROLE}; "
    op.execute(f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{RUNTIME_ROLE}') THEN "
               f"REVOKE ALL ON {', '.join(privileges)} FROM {RUNTIME_ROLE}; {grants}END IF; END $$")


def audit_table(*tables: str) -> None:
    """Audit every change of these tables like every other table's (0006's trigger; again to refresh its arguments)."""
    for table in tables:
        op.execute(f"SELECT crm_audit_enable('{table}'::regclass)")


def enable_rls(table: str, using: str, check: str | None = None, command: str | None = None) -> None:
    """Row-level security on `table` with one policy `<table>_scope` for every role but the owner (TO PUBLIC).

    `using`: the rows a role sees; `check`: the rows it may write; `command`: the policy only for it ("SELECT").
    """
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    only = f" FOR {command}" if command else ""
    writes = f" WITH CHECK ({check})" if check is not None else ""
    op.execute(f"CREATE POLICY {table}_scope ON {table}{only} TO PUBLIC USING ({using}){writes}")
