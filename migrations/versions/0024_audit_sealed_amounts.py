"""The audit log keeps an encrypted amount's ciphertext, so a record's History can show the amount to
those who may read it.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06

customers.revenue and opportunities.value are AES-GCM envelopes bound to their row
(app/encryption): the log now holds the envelope (hex, as `to_jsonb(bytea)` writes it)
where it held "changed" or "[redacted]", never the amount in clear. The History panel
opens it with the key ring for users who may read the record's amounts and says
"hidden" to others. Passwords, tokens and the other secrets stay redacted.
"""
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

SECRET = """
CREATE OR REPLACE FUNCTION crm_audit_secret(tbl text, col text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT {pairs}
        col ~* '(passw|secret|token|salt|hash|cipher|encrypt|credential|private|otp|(^|_)keys?($|_))'
$$"""
SEALED_TABLES = ("customers", "opportunities")


def _set_secret(pairs: str) -> None:
    op.execute(SECRET.format(pairs=pairs))
    for table in SEALED_TABLES:  # the triggers carry their secret columns as arguments: refresh them
        op.execute(f"SELECT crm_audit_enable('{table}'::regclass)")


def upgrade():
    _set_secret("(tbl, col) IN (('users', 'password_hash')) OR")


def downgrade():
    _set_secret("(tbl, col) IN (('users', 'password_hash'), ('customers', 'revenue'), ('opportunities', 'value')) OR")
