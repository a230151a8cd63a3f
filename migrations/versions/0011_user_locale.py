"""users.locale: each user's UI language, remembered across sessions and browsers.

Revision ID: 0011
Revises: 0006
Create Date: 2026-11-29

NULL means "not chosen": the browser's Accept-Language (or the default) decides.
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("locale", sa.String(10), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "locale")
