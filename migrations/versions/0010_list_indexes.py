"""List indexes: (column, key) B-trees for every sorted list column; (foreign key, sort) for related lists.

Revision ID: 0010
Revises: 0006
Create Date: 2026-11-29

Lists order by one column with the primary key as tie-breaker and page by
keyset (app/lists/keyset.py); without these indexes a sorted list, its deep pages
and its last page sort the whole table on every request. The names and columns
are a frozen copy of app.models.list_indexes (a test keeps them in step).
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_customers_name_sort": ("customers", ["name", "customer_id"]),
    "ix_customers_industry_sort": ("customers", ["industry", "customer_id"]),
    "ix_customers_location_sort": ("customers", ["location", "customer_id"]),
    "ix_customers_revenue_band_sort": ("customers", ["revenue_band", "customer_id"]),
    "ix_customers_updated_at_sort": ("customers", ["updated_at", "customer_id"]),
    "ix_contacts_first_name_sort": ("contacts", ["first_name", "contact_id"]),
    "ix_contacts_last_name_sort": ("contacts", ["last_name", "contact_id"]),
    "ix_contacts_email_sort": ("contacts", ["email", "contact_id"]),
    "ix_contacts_phone_sort": ("contacts", ["phone", "contact_id"]),
    "ix_contacts_position_sort": ("contacts", ["position", "contact_id"]),
    "ix_contacts_updated_at_sort": ("contacts", ["updated_at", "contact_id"]),
    "ix_leads_source_sort": ("leads", ["source", "lead_id"]),
    "ix_leads_status_sort": ("leads", ["status", "lead_id"]),
    "ix_leads_updated_at_sort": ("leads", ["updated_at", "lead_id"]),
    "ix_opportunities_name_sort": ("opportunities", ["name", "opportunity_id"]),
    "ix_opportunities_stage_sort": ("opportunities", ["stage", "opportunity_id"]),
    "ix_opportunities_value_band_sort": ("opportunities", ["value_band", "opportunity_id"]),
    "ix_opportunities_close_date_sort": ("opportunities", ["close_date", "opportunity_id"]),
    "ix_opportunities_updated_at_sort": ("opportunities", ["updated_at", "opportunity_id"]),
    "ix_activities_type_sort": ("activities", ["type", "activity_id"]),
    "ix_activities_subject_sort": ("activities", ["subject", "activity_id"]),
    "ix_activities_activity_date_sort": ("activities", ["activity_date", "activity_id"]),
    "ix_activities_updated_at_sort": ("activities", ["updated_at", "activity_id"]),
    "ix_service_tickets_subject_sort": ("service_tickets", ["subject", "ticket_id"]),
    "ix_service_tickets_status_sort": ("service_tickets", ["status", "ticket_id"]),
    "ix_service_tickets_priority_sort": ("service_tickets", ["priority", "ticket_id"]),
    "ix_service_tickets_updated_at_sort": ("service_tickets", ["updated_at", "ticket_id"]),
    "ix_contacts_customer_id_contact_id": ("contacts", ["customer_id", "contact_id"]),
    "ix_leads_contact_id_lead_id": ("leads", ["contact_id", "lead_id"]),
    "ix_opportunities_customer_id_opportunity_id": ("opportunities", ["customer_id", "opportunity_id"]),
    "ix_activities_customer_id_activity_date": ("activities", ["customer_id", "activity_date", "activity_id"]),
    "ix_activities_contact_id_activity_date": ("activities", ["contact_id", "activity_date", "activity_id"]),
    "ix_service_tickets_customer_id_ticket_id": ("service_tickets", ["customer_id", "ticket_id"]),
}


def upgrade():
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")  # builds over existing rows
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade():
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
