"""Webhooks: subscriptions, the outbox, and the triggers that fill it in the changing transaction.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06

- webhook_subscriptions: URL, events, secret (a key-ring envelope), owner, active.
  Audited like every table (the secret column is redacted by its name).
- webhook_deliveries: the outbox, one row per event and matching active subscription,
  with the row as written (`to_jsonb`), so a deleted row's payload survives it.
  Not audited: it would copy every changed row into the log.
- crm_webhook_outbox(): AFTER ROW trigger on the CRM tables. It runs in the changing
  transaction, so a rolled-back change leaves no row and a committed one always has its
  rows, whatever path wrote it (screens, API, CSV COPY, plain SQL). Nothing is written
  when no active subscription wants the event, when only bookkeeping columns changed,
  or when the transaction set `crm.webhooks` to 'off' (key rotation re-encrypts amounts).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import audit_table

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")
# table -> primary-key column
TABLES = {"customers": "customer_id", "contacts": "contact_id", "leads": "lead_id",
          "opportunities": "opportunity_id", "activities": "activity_id", "service_tickets": "ticket_id"}

OUTBOX_FUNCTION = """
CREATE FUNCTION crm_webhook_outbox() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    pk constant text := TG_ARGV[0];
    bookkeeping constant text[] := '{created_at,updated_at,version}';
    ev text := TG_TABLE_NAME || '.' || CASE TG_OP WHEN 'INSERT' THEN 'created'
                                                  WHEN 'UPDATE' THEN 'updated' ELSE 'deleted' END;
    r jsonb;
BEGIN
    IF current_setting('crm.webhooks', true) = 'off'
       OR NOT EXISTS (SELECT FROM webhook_subscriptions WHERE active AND ev = ANY (events)) THEN
        RETURN NULL;
    END IF;
    r := CASE TG_OP WHEN 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
    IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) - bookkeeping) = (r - bookkeeping) THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (webhook_id, event, table_name, record_id, snapshot)
    SELECT webhook_id, ev, TG_TABLE_NAME, (r ->> pk)::integer, r
    FROM webhook_subscriptions WHERE active AND ev = ANY (events);
    RETURN NULL;
END
$$"""


def upgrade():
    op.create_table(
        "webhook_subscriptions",
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.user_id"], name=op.f("fk_webhook_subscriptions_owner_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_index(op.f("ix_webhook_subscriptions_owner_id"), "webhook_subscriptions", ["owner_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("delivery_key", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=80), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.String(length=10), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_answer", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed', 'skipped')",
                           name=op.f("ck_webhook_deliveries_status")),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhook_subscriptions.webhook_id"],
                                name=op.f("fk_webhook_deliveries_webhook_id_webhook_subscriptions"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("delivery_key", name=op.f("uq_webhook_deliveries_delivery_key")),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["next_attempt_at", "delivery_id"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("ix_webhook_deliveries_webhook_id", "webhook_deliveries", ["webhook_id", "delivery_id"])
    op.execute(OUTBOX_FUNCTION)
    for table, pk in TABLES.items():
        op.execute(f"CREATE TRIGGER {table}_webhooks AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION crm_webhook_outbox('{pk}')")
    audit_table("webhook_subscriptions")


def downgrade():
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_webhooks ON {table}")
    op.execute("DROP FUNCTION crm_webhook_outbox()")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
