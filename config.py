"""Application configuration: defaults here, overridden by the environment.

Every value the contract names (DATABASE_URL, CRM_INSTANCE_DIR, ...) is read
from the environment at start-up; secrets are never stored in this file.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from flask_appbuilder.security.manager import AUTH_DB

BASE_DIR = Path(__file__).resolve().parent


class Config:
    """Defaults for a production-like run; `create_app` layers env on top."""

    APP_NAME = "CRM Back Office"
    APP_THEME = ""
    INSTANCE_DIR = BASE_DIR / "instance"
    DATABASE_URL: str | None = None
    MIGRATION_DATABASE_URL: str | None = None
    DEMO_DATA = True
    ADMIN_PASSWORD: str | None = None
    EMBEDDED_AUTOSTART = True  # start the embedded server when a command needs it

    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # no pre-ping: a connection idle a while is pinged by app/web/availability.py instead, and a
    # signed-in request whose first statement meets a dead one retries it on a new one (app/security/sessions.py):
    # a worker reconnects by itself after a database restart without a round trip before every request;
    # connect_timeout: an unreachable server is a quick 503, not a hung worker
    # LIFO: the same few connections serve the requests, with their plans and caches warm
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": False, "pool_size": 5, "max_overflow": 5, "pool_use_lifo": True,
                                 "connect_args": {"connect_timeout": 5}}

    # Flask-AppBuilder: migrations own the schema; permissions are synced by
    # `crm bootstrap` once per start, not by every gunicorn worker.
    FAB_CREATE_DB = False
    FAB_UPDATE_PERMS = False
    # the security manager class is given to AppBuilder by create_app (views/admin/security_screens.py)
    FAB_ADD_SECURITY_API = False
    # FAB's /api/v1/menu/: no page or script of the app reads it, and the OpenAPI document does not offer it
    FAB_ADD_MENU_API = False
    FAB_API_SWAGGER_UI = True
    FAB_PASSWORD_HASH_METHOD = "scrypt"
    AUTH_TYPE = AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)  # absolute session lifetime
    SESSION_IDLE_TIMEOUT = timedelta(minutes=30)

    # Login security (OWASP ASVS 4.0.3 level 2); counters live in PostgreSQL
    AUTH_LOCKOUT_FAILURES = 5
    AUTH_LOCKOUT_MINUTES = 15
    AUTH_RATE_LIMIT_ATTEMPTS = 10  # sign-in attempts per client address ...
    AUTH_RATE_LIMIT_SECONDS = 60  # ... per this many seconds
    PASSWORD_MIN_LENGTH = 12
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
    # FAB_PASSWORD_COMPLEXITY_VALIDATOR: app.security.passwords (set by CrmSecurityManager)
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=15)
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(hours=12)

    BABEL_DEFAULT_LOCALE = "en"
    # FAB's `zh` catalog is Simplified Chinese; our catalogs use the same code (app/translations/zh)
    LANGUAGES = {
        "en": {"flag": "gb", "name": "English"},
        "zh": {"flag": "cn", "name": "简体中文"},
    }

    HOST = "127.0.0.1"
    PORT = 8080
    # reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust (0: none); the
    # sign-in lockout and rate limit count per client address, so behind a proxy set this
    PROXY_HOPS = 0

    LOG_PARTITIONS_AHEAD = 3  # months of logs partitions kept ready
    LOG_RETENTION_MONTHS: int | None = None  # None keeps every month

    # the job scheduler of `crm serve` (app/scheduler): None = on with the embedded database
    SCHEDULER: bool | None = None
    JOB_INTERVALS: str | None = None  # "reports=15m,logs-maintain=off" (app/scheduler/catalog.py)
    DISK_WARN_PERCENT = 90  # the operations page warns above this use of the instance dir's disk
    WEBHOOK_KEEP_DAYS = 30  # settled webhook deliveries (delivered, failed, skipped) kept this long

    # bulk actions on "all matching" rows (app/lists/bulk_jobs.py): above this many rows they run as
    # a background job in batches, each its own transaction (CRM_BULK_INLINE_LIMIT)
    BULK_INLINE_LIMIT = 5_000
    BULK_JOB_BATCH = 2_000  # rows per batch (one transaction each)
    BULK_JOB_LEASE_SECONDS = 120  # a runner's claim on a job, renewed at every batch
    BULK_JOB_THREADS = True  # start a job at once in a thread of the web process (else: the scheduler)


def from_environment(environ: os._Environ | dict = os.environ) -> dict:
    """The contract's environment variables, as config keys (only those set)."""
    found: dict = {}
    if environ.get("CRM_INSTANCE_DIR"):
        found["INSTANCE_DIR"] = Path(environ["CRM_INSTANCE_DIR"]).resolve()
    for env, key in (("DATABASE_URL", "DATABASE_URL"),
                     ("MIGRATION_DATABASE_URL", "MIGRATION_DATABASE_URL"),
                     ("SECRET_KEY", "SECRET_KEY"),
                     ("CRM_ADMIN_PASSWORD", "ADMIN_PASSWORD"),
                     ("HOST", "HOST")):
        if environ.get(env):
            found[key] = environ[env]
    if environ.get("PORT"):
        found["PORT"] = int(environ["PORT"])
    if environ.get("CRM_PROXY_HOPS"):
        found["PROXY_HOPS"] = int(environ["CRM_PROXY_HOPS"])
    if environ.get("CRM_DEMO_DATA") is not None:
        found["DEMO_DATA"] = _env_bool(environ, "CRM_DEMO_DATA", True)
    if environ.get("CRM_SESSION_IDLE_MINUTES"):
        found["SESSION_IDLE_TIMEOUT"] = timedelta(minutes=float(environ["CRM_SESSION_IDLE_MINUTES"]))
    if environ.get("CRM_SESSION_LIFETIME_HOURS"):
        found["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=float(environ["CRM_SESSION_LIFETIME_HOURS"]))
    if environ.get("CRM_LOG_RETENTION_MONTHS"):
        found["LOG_RETENTION_MONTHS"] = int(environ["CRM_LOG_RETENTION_MONTHS"])
    if environ.get("CRM_SCHEDULER") is not None:
        found["SCHEDULER"] = _env_bool(environ, "CRM_SCHEDULER", True)
    if environ.get("CRM_JOB_INTERVALS"):
        found["JOB_INTERVALS"] = environ["CRM_JOB_INTERVALS"]
    if environ.get("CRM_DISK_WARN_PERCENT"):
        found["DISK_WARN_PERCENT"] = float(environ["CRM_DISK_WARN_PERCENT"])
    if environ.get("CRM_BULK_INLINE_LIMIT"):
        found["BULK_INLINE_LIMIT"] = int(environ["CRM_BULK_INLINE_LIMIT"])
    if environ.get("CRM_WEBHOOK_KEEP_DAYS"):
        found["WEBHOOK_KEEP_DAYS"] = float(environ["CRM_WEBHOOK_KEEP_DAYS"])
    if environ.get("CRM_HTTPS") is not None:
        found["SESSION_COOKIE_SECURE"] = _env_bool(environ, "CRM_HTTPS", False)
    return found


def _env_bool(environ, name: str, default: bool) -> bool:
    value = environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class TestConfig(Config):
    """Used by the test-suite; CSRF stays on so tests exercise it."""

    TESTING = True
    DEMO_DATA = False
