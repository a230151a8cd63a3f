"""API keys: a user's credential for the REST API, shown once and stored only as a SHA-256.

Revision ID: 0020
Revises: 0016
Create Date: 2026-12-06

Not audited by the row trigger (app/audit/partitions.py NOT_AUDITED): last_used_at
changes with use; creating, first use per day and revoking are logged as app events
(app/security/api_keys.py).
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0016"
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
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
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


def downgrade():
    op.drop_index(op.f("ix_api_keys_user_id"), table_name="api_keys")
    op.drop_table("api_keys")
