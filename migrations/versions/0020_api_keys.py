"""API keys: a user's credential for the REST API, shown once and stored only as a SHA-256.

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-06

- api_keys: one row per key (name unique, the key's prefix and hash, who made it,
  expiry, revocation); audited like every table: its creation and revocation are
  in the log, the hash redacted.
- api_key_uses: each key's last use, written at most once a minute; kept apart
  and not audited (app/audit/partitions.py NOT_AUDITED), like the sessions: the
  first use of each day is logged as an app event (app/security/api_keys.py).
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0017"
branch_labels = None
depends_on = None

UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")


def upgrade():
    op.create_table(
        "api_keys",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_api_keys_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.user_id"], name=op.f("fk_api_keys_created_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("api_key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"], unique=False)
    # every foreign key is indexed: deleting a user must not scan api_keys for its creator
    op.create_index(op.f("ix_api_keys_created_by"), "api_keys", ["created_by"], unique=False)
    op.create_table(
        "api_key_uses",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.api_key_id"],
                                name=op.f("fk_api_key_uses_api_key_id_api_keys"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id", name=op.f("pk_api_key_uses")),
    )
    op.execute("SELECT crm_audit_enable('api_keys'::regclass)")  # audited like every table


def downgrade():
    op.drop_table("api_key_uses")
    op.drop_index(op.f("ix_api_keys_created_by"), table_name="api_keys")
    op.drop_index(op.f("ix_api_keys_user_id"), table_name="api_keys")
    op.drop_table("api_keys")
