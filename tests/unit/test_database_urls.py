"""The URLs the app connects with, from its config alone: the runtime role for requests, the owner for migrations."""
from __future__ import annotations

from app.ops.database import migration_database_url, resolve_database_url
from app.ops.embedded_db import OWNER_ROLE, RUNTIME_ROLE


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
