"""Reports: one index for "the latest snapshot of each type" (replaces the index on report_type alone).

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-29

The dashboard reads the newest snapshot of each report type. On
(report_type, generated_at, report_id) that is one index probe per type, read
backwards, however long the history grows; the old index on report_type alone
made it read and sort a type's whole history.
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_reports_report_type_generated_at", "reports", ["report_type", "generated_at", "report_id"])
    op.drop_index("ix_reports_report_type", table_name="reports")


def downgrade():
    op.create_index("ix_reports_report_type", "reports", ["report_type"])
    op.drop_index("ix_reports_report_type_generated_at", table_name="reports")
