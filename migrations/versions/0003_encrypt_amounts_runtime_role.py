"""Encrypt customers.revenue and opportunities.value; grants for the runtime role crm_app.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29

The amounts become AES-GCM ciphertext (BYTEA) under the instance's key ring,
each beside a coarse `<column>_band` for sorting and range filters. Existing
amounts are encrypted in place (and decrypted again on downgrade).

The runtime role `crm_app` (when it exists: the embedded server creates it; on
an external server see the README) may read and write rows, append to logs and
use sequences, nothing else; default privileges extend that to tables later
migrations create.
"""
from alembic import op
import sqlalchemy as sa
from flask import current_app

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

AMOUNTS = [("customers", "revenue", "customer_id"), ("opportunities", "value", "opportunity_id")]
BATCH = 2000
RUNTIME_ROLE = "crm_app"

GRANTS = f"""
GRANT USAGE ON SCHEMA public TO {RUNTIME_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {RUNTIME_ROLE};
REVOKE ALL ON alembic_version FROM {RUNTIME_ROLE};
REVOKE UPDATE, DELETE, TRUNCATE ON logs FROM {RUNTIME_ROLE};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {RUNTIME_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {RUNTIME_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO {RUNTIME_ROLE};
"""
REVOKES = f"""
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {RUNTIME_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE ON SEQUENCES FROM {RUNTIME_ROLE};
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {RUNTIME_ROLE};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {RUNTIME_ROLE};
REVOKE USAGE ON SCHEMA public FROM {RUNTIME_ROLE};
"""


def _if_role_exists(statements: str) -> str:
    return (f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{RUNTIME_ROLE}') THEN "
            f"{statements} END IF; END $$")


def _batches(conn, query: str):
    last = 0
    while True:
        rows = conn.execute(sa.text(query), {"last": last, "n": BATCH}).fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def upgrade():
    from app.encryption.columns import band_of, key_ring

    ring = key_ring(current_app.config["INSTANCE_DIR"])
    conn = op.get_bind()
    for table, column, pk in AMOUNTS:
        op.drop_constraint(op.f(f"ck_{table}_{column}_nonneg"), table, type_="check")
        op.add_column(table, sa.Column(f"{column}_band", sa.SmallInteger(), nullable=True))
        op.alter_column(table, column, new_column_name=f"{column}_plain")
        op.add_column(table, sa.Column(column, sa.LargeBinary(), nullable=True))
        # a re-encryption is not a user's edit: no updated_at / version bump, no audit rows
        op.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        update = sa.text(f"UPDATE {table} SET {column} = :sealed, {column}_band = :band WHERE {pk} = :pk")
        for rows in _batches(conn, f"SELECT {pk}, {column}_plain FROM {table} WHERE {pk} > :last "
                                   f"AND {column}_plain IS NOT NULL ORDER BY {pk} LIMIT :n"):
            conn.execute(update, [{"pk": row_pk, "band": band_of(amount),
                                   "sealed": ring.encrypt(amount, table, column, row_pk)}
                                  for row_pk, amount in rows])
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        op.drop_column(table, f"{column}_plain")
        op.create_check_constraint(
            op.f(f"ck_{table}_{column}_band"), table,
            f"({column} IS NULL) = ({column}_band IS NULL) AND {column}_band BETWEEN 0 AND 7")
        op.create_index(op.f(f"ix_{table}_{column}_band"), table, [f"{column}_band"])
    op.execute(_if_role_exists(GRANTS))


def downgrade():
    from app.encryption.columns import key_ring

    op.execute(_if_role_exists(REVOKES))
    ring = key_ring(current_app.config["INSTANCE_DIR"])
    conn = op.get_bind()
    for table, column, pk in AMOUNTS:
        op.drop_index(op.f(f"ix_{table}_{column}_band"), table)
        op.drop_constraint(op.f(f"ck_{table}_{column}_band"), table, type_="check")
        op.add_column(table, sa.Column(f"{column}_plain", sa.Numeric(18, 2), nullable=True))
        op.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        update = sa.text(f"UPDATE {table} SET {column}_plain = :amount WHERE {pk} = :pk")
        for rows in _batches(conn, f"SELECT {pk}, {column} FROM {table} WHERE {pk} > :last "
                                   f"AND {column} IS NOT NULL ORDER BY {pk} LIMIT :n"):
            conn.execute(update, [{"pk": row_pk, "amount": ring.decrypt(sealed, table, column, row_pk)}
                                  for row_pk, sealed in rows])
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        op.drop_column(table, column)
        op.drop_column(table, f"{column}_band")
        op.alter_column(table, f"{column}_plain", new_column_name=column)
        op.create_check_constraint(op.f(f"ck_{table}_{column}_nonneg"), table, f"{column} >= 0")
