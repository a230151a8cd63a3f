"""The customer page's open opportunities: a partial index on (customer, close date) of the open stages.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

The Customer 360 panel lists a customer's open opportunities closing soonest and
counts them; the pipeline value reads their amounts. By the customer key alone a
customer with 8,000 opportunities (the biggest at scale 1) read and sorted all of
them (6 ms + 8 ms for the count); ix_opportunities_customer_open holds only the
open ones, in the panel's order, so the page and its count are short index scans.
"""
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# as app.sales.customer360.OPEN_STAGES: every stage but won and lost; written as PostgreSQL prints it
# back, so the seed's drop-and-recreate of indexes (from pg_get_indexdef) gives the same index
OPEN = "(stage)::text = ANY ('{initial,qualification,proposal,negotiation}'::text[])"


def upgrade():
    op.execute("CREATE INDEX ix_opportunities_customer_open ON opportunities "
               f"(customer_id, close_date, opportunity_id) WHERE {OPEN}")


def downgrade():
    op.execute("DROP INDEX IF EXISTS ix_opportunities_customer_open")
