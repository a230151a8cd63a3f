"""The scheduler's job state: last and next run of every job, shared by the app servers.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")


def upgrade():
    op.create_table(
        "scheduled_jobs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_due", sa.DateTime(), nullable=False),
        sa.Column("last_started", sa.DateTime(), nullable=True),
        sa.Column("last_finished", sa.DateTime(), nullable=True),
        sa.Column("last_success", sa.DateTime(), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.Column("last_duration", sa.Float(), nullable=True),
        sa.Column("last_size", sa.BigInteger(), nullable=True),
        sa.Column("last_runner", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduled_jobs")),
    )


def downgrade():
    op.drop_table("scheduled_jobs")
