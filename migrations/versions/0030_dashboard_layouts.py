"""Saved dashboard layouts: per user, the charts shown in their order and the filters the dashboard opens with.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07

One row per user (the primary key), removed with the user. Audited like every table.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import audit_table

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dashboard_layouts",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("charts", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("query", sa.String(length=500), server_default="", nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("(now() AT TIME ZONE 'utc')"),
                  nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_dashboard_layouts_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_dashboard_layouts")),
    )
    audit_table("dashboard_layouts")


def downgrade():
    op.drop_table("dashboard_layouts")
