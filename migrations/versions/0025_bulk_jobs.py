"""Bulk jobs: an "all matching" bulk action above CRM_BULK_INLINE_LIMIT rows runs in the background.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06

- bulk_jobs: who asked, which list (screen and table), which action, the list's arguments
  (filters, `q`) and the value to set, then the progress: total, done, the last key done
  (batches walk the primary key upwards), status, a message, the runner and its lease.
- bulk_job_parts: an export's CSV, one part per batch, written in the batch's transaction
  (a resumed job never writes a part twice; any app server can send the file).
Not audited: progress changes at every batch; what the job does to rows is audited per row
by the tables' own triggers. The runtime role may read, add and update jobs, never delete
them (they are the record of what was asked); export parts it may add, read and delete
(an export's file is removed when the job is cancelled or expires).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import grant_runtime

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")


def upgrade():
    op.create_table(
        "bulk_jobs",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("screen", sa.String(length=100), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("arguments", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("locale", sa.String(length=10), server_default="en", nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_key", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("result_file", sa.String(length=255), nullable=True),
        sa.Column("runner", sa.String(length=255), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("action IN ('delete', 'set', 'export')", name=op.f("ck_bulk_jobs_action")),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'cancelled')",
                           name=op.f("ck_bulk_jobs_status")),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_bulk_jobs_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_bulk_jobs")),
    )
    op.create_index("ix_bulk_jobs_user_id", "bulk_jobs", ["user_id", "job_id"])
    # the scheduler's pickup: queued jobs, and running ones whose lease ran out
    op.create_index("ix_bulk_jobs_open", "bulk_jobs", ["lease_until", "job_id"],
                    postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.create_table(
        "bulk_job_parts",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["bulk_jobs.job_id"], name=op.f("fk_bulk_job_parts_job_id_bulk_jobs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "part", name=op.f("pk_bulk_job_parts")),
    )
    grant_runtime({"bulk_jobs": "SELECT, INSERT, UPDATE", "bulk_job_parts": "SELECT, INSERT, DELETE"}, sequences=True)


def downgrade():
    op.drop_table("bulk_job_parts")
    op.drop_table("bulk_jobs")
