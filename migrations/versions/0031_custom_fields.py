"""Custom fields: the catalogue of columns admins (or DBAs, through `crm fields sync`) add to the CRM tables.

Revision ID: 0031
Revises: 0026
Create Date: 2026-12-06

- custom_fields: one row per extra column of customers, contacts, leads, opportunities,
  activities or service_tickets: its type (text, long_text, number, amount, date, datetime,
  boolean, choice, link:<table>), labels in both languages, a choice's documented values
  ([{"value", "label_en", "label_zh"}]), required, financial (an amount stored encrypted),
  state (active, or hidden: removed but its data kept until `crm fields purge`) and
  source (admin: added through the app; sync: a column a DBA added by hand).
- crm_schema_version: one row; every field change bumps it in the same transaction, so every
  worker and app server sees that its reflected screens are stale (app/fields/catalog.py).
The runtime role only reads both: the columns themselves are added by the owner role
(app/fields), which the runtime role is not (it has no DDL). custom_fields is audited like
every table; the version row too (one line per change, next to the field's own).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import audit_table, grant_runtime

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

TYPES = r"^(text|long_text|number|amount|date|datetime|boolean|choice|link:[a-z_]+)$"


def upgrade():
    op.create_table(
        "custom_fields",
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=False),
        sa.Column("field_type", sa.Text(), nullable=False),
        sa.Column("label_en", sa.Text(), nullable=True),
        sa.Column("label_zh", sa.Text(), nullable=True),
        sa.Column("choices", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("required", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("financial", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("state", sa.Text(), server_default="active", nullable=False),
        sa.Column("source", sa.Text(), server_default="admin", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(f"field_type ~ '{TYPES}'", name=op.f("ck_custom_fields_field_type")),
        sa.CheckConstraint("state IN ('active', 'hidden')", name=op.f("ck_custom_fields_state")),
        sa.CheckConstraint("source IN ('admin', 'sync')", name=op.f("ck_custom_fields_source")),
        sa.PrimaryKeyConstraint("field_id", name=op.f("pk_custom_fields")),
        sa.UniqueConstraint("table_name", "column_name", name=op.f("uq_custom_fields_table_name_column_name")),
    )
    op.create_table(
        "crm_schema_version",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_crm_schema_version_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_schema_version")),
    )
    op.execute("INSERT INTO crm_schema_version (id, version) VALUES (1, 1)")
    # the runtime role reads the catalogue, the owner role (app/fields) writes it with the DDL it records
    grant_runtime({"custom_fields": "SELECT", "crm_schema_version": "SELECT"})
    audit_table("custom_fields", "crm_schema_version")


def downgrade():
    op.drop_table("crm_schema_version")
    op.drop_table("custom_fields")
