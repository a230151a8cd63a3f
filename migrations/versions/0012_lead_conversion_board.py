"""Lead conversion links, and indexes for the customer timeline and the pipeline board.

Revision ID: 0012
Revises: 0006
Create Date: 2026-11-29

* leads.converted_customer_id / converted_opportunity_id (ON DELETE RESTRICT: a
  customer or opportunity a lead was converted into cannot vanish under it),
  converted_at, converted_by (ON DELETE SET NULL: deleting a user account is not
  blocked by sales history; the audit log keeps who it was). A CHECK keeps a
  conversion whole and a converted lead's status 'converted'.
* (customer_id, created_at, ticket_id) (activities use 0010's (customer_id, activity_date, activity_id)):
  the customer 360 timeline reads the newest rows of one customer by keyset.
* (stage, close_date, opportunity_id): the board's newest cards and counts per stage.
* security_synced_permissions: the permissions the start-up sync has seen, filled with
  the existing ones, so a new action on an existing screen (can_convert on LeadView)
  reaches the default roles of an upgraded install once, and an admin's revocation stays.
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CONVERSION_CHECK = ("(converted_at IS NULL) = (converted_customer_id IS NULL) "
                    "AND (converted_at IS NULL) = (converted_opportunity_id IS NULL) "
                    "AND (converted_at IS NULL OR status = 'converted')")
INDEXES = [
    ("ix_service_tickets_customer_timeline", "service_tickets", ["customer_id", "created_at", "ticket_id"]),
    ("ix_opportunities_stage_close_date", "opportunities", ["stage", "close_date", "opportunity_id"]),
]


def upgrade():
    op.create_table(
        "security_synced_permissions",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("seen_at", sa.DateTime(), server_default=sa.text("(now() AT TIME ZONE 'utc')"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_security_synced_permissions")),
    )
    op.execute("INSERT INTO security_synced_permissions (name) SELECT permission_name FROM permissions")
    op.execute("SELECT crm_audit_enable('security_synced_permissions'::regclass)")  # audited like every table
    op.add_column("leads", sa.Column("converted_customer_id", sa.Integer(), nullable=True))
    op.add_column("leads", sa.Column("converted_opportunity_id", sa.Integer(), nullable=True))
    op.add_column("leads", sa.Column("converted_at", sa.DateTime(), nullable=True))
    op.add_column("leads", sa.Column("converted_by", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_leads_converted_customer_id_customers"), "leads", "customers",
                          ["converted_customer_id"], ["customer_id"], ondelete="RESTRICT")
    op.create_foreign_key(op.f("fk_leads_converted_opportunity_id_opportunities"), "leads", "opportunities",
                          ["converted_opportunity_id"], ["opportunity_id"], ondelete="RESTRICT")
    op.create_foreign_key(op.f("fk_leads_converted_by_users"), "leads", "users",
                          ["converted_by"], ["user_id"], ondelete="SET NULL")
    for column in ("converted_customer_id", "converted_opportunity_id", "converted_by"):
        op.create_index(op.f(f"ix_leads_{column}"), "leads", [column])
    op.create_check_constraint(op.f("ck_leads_conversion"), "leads", CONVERSION_CHECK)
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    op.drop_table("security_synced_permissions")
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_constraint(op.f("ck_leads_conversion"), "leads", type_="check")
    for column in ("converted_by", "converted_opportunity_id", "converted_customer_id"):
        op.drop_index(op.f(f"ix_leads_{column}"), table_name="leads")
    op.drop_constraint(op.f("fk_leads_converted_by_users"), "leads", type_="foreignkey")
    op.drop_constraint(op.f("fk_leads_converted_opportunity_id_opportunities"), "leads", type_="foreignkey")
    op.drop_constraint(op.f("fk_leads_converted_customer_id_customers"), "leads", type_="foreignkey")
    for column in ("converted_by", "converted_at", "converted_opportunity_id", "converted_customer_id"):
        op.drop_column("leads", column)
