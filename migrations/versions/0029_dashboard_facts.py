"""The dashboard's pre-aggregated figures per day or month and owner, and the state of their refresh.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07

- dashboard_facts: counts (plain), sums of whole days (plain) and money sums (sealed per row
  with the key ring, app/reports/facts.py) per metric, grain (day or month), holder (the
  records' owner; 0 unowned, -1 everyone) and up to two dimension values. Rebuilt whole by
  the reports job as the owner role; the runtime role only reads it.
- Row-level security like the owned tables': a row shows to a user who sees the whole
  source table, or when its holder is among the owners the user may see (0026's functions,
  once-per-statement InitPlans). The company-wide and unowned rows (holder -1, 0) need "all".
- dashboard_refresh: one row, the facts' time and a running refresh's progress (not audited:
  it changes at every step).
"""
import sqlalchemy as sa
from alembic import op

from migrations.helpers import enable_rls, grant_runtime

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

SOURCES = ("customers", "leads", "opportunities", "service_tickets")


def visible() -> str:
    """The policy: per source table, the whole table's sight or the holder among the visible owners."""
    return " OR ".join(f"(source = '{t}' AND ((SELECT crm_sees_all('{t}')) "
                       f"OR holder = ANY ((SELECT crm_visible_owner_ids('{t}'))::integer[])))" for t in SOURCES)


def upgrade():
    op.create_table(
        "dashboard_facts",
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("holder", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("k1", sa.String(length=255), nullable=False),
        sa.Column("k2", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("days", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("grain IN ('d', 'm')", name=op.f("ck_dashboard_facts_grain")),
        sa.CheckConstraint("source IN ('customers', 'leads', 'opportunities', 'service_tickets')",
                           name=op.f("ck_dashboard_facts_source")),
        sa.PrimaryKeyConstraint("metric", "grain", "holder", "day", "k1", "k2", name=op.f("pk_dashboard_facts")),
    )
    op.create_table(
        "dashboard_refresh",
        sa.Column("refresh_id", sa.Integer(), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("step", sa.Integer(), server_default="0", nullable=False),
        sa.Column("steps", sa.Integer(), server_default="0", nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.CheckConstraint("refresh_id = 1", name=op.f("ck_dashboard_refresh_one_row")),
        sa.PrimaryKeyConstraint("refresh_id", name=op.f("pk_dashboard_refresh")),
    )
    op.execute("INSERT INTO dashboard_refresh (refresh_id) VALUES (1)")
    enable_rls("dashboard_facts", visible(), command="SELECT")
    grant_runtime({"dashboard_facts": "SELECT", "dashboard_refresh": "SELECT"})


def downgrade():
    op.drop_table("dashboard_refresh")
    op.drop_table("dashboard_facts")
