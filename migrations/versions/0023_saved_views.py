"""Saved list views: a user's named filters, sort, quick search and columns, private or shared with a role.

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-06

Audited like every table (sharing a view with a role is a change people may ask about).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import audit_table

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "saved_views",
        sa.Column("saved_view_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("view_name", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=True),
        sa.Column("args", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("columns", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("(now() AT TIME ZONE 'utc')"),
                  nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_saved_views_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["role_id"], ["roles.role_id"], name=op.f("fk_saved_views_role_id_roles"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("saved_view_id", name=op.f("pk_saved_views")),
    )
    op.create_index("uq_saved_views_owner_name", "saved_views", ["user_id", "view_name", "name"], unique=True)
    op.create_index("uq_saved_views_default", "saved_views", ["user_id", "view_name"], unique=True,
                    postgresql_where=sa.text("is_default"))
    op.create_index("ix_saved_views_role", "saved_views", ["role_id", "view_name"])
    audit_table("saved_views")


def downgrade():
    op.drop_table("saved_views")
