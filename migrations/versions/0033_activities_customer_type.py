"""A contact's customer's activities of one type: (customer_id, type), for a scoped user's filtered activities.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07

A Sales Rep sees the activities of their customers (migration 0027), a few per thousand of
them. Their list filtered by type ("visit") read the date sort index backwards, testing each
activity's type and customer, until a page of 26 passed: at scale 1, 70,000 rows for rep22's
3,369 visits of 10M activities (378 ms). The list now reads the user's customers' activities
(app/lists/scope.py, `followed_in_scope`), and through this index only those of the type: a
nested loop from the owner index, about one entry per customer. Built CONCURRENTLY: the
activities stay writable while it is built (minutes at 10M rows).
"""
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

NAME = "ix_activities_customer_id_type"


def upgrade():
    with op.get_context().autocommit_block():  # CONCURRENTLY cannot run inside a transaction
        op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON activities (customer_id, type)")


def downgrade():
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
