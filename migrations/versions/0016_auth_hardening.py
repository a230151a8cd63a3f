"""Sign-in hardening: failures counted per account and address, token revocation, role names unique in any case.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

- login_addresses: one row per account and client address: consecutive failed
  sign-ins, that pair's lock, and the last success (an address the account
  signed in from is spared the account-wide delay). users.fail_login_count now
  counts the account's consecutive failures from every address, and
  users.locked_until is the end of the account-wide delay (seconds, growing).
- users.jwt_valid_after: set when the password changes; API tokens issued
  before it are refused.
- uq_roles_role_name_lower: "Sales rep" cannot sit beside "Sales Rep". Existing
  duplicates (in any case) are renamed "<name> (2)", ... first, keeping every row.
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")


def upgrade():
    op.create_table(
        "login_addresses",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_login_addresses_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "address", name=op.f("pk_login_addresses")),
    )
    op.add_column("users", sa.Column("jwt_valid_after", sa.DateTime(), nullable=True))
    # earlier names differing only in case get the first free " (k)": "sales (2)" may be taken already
    op.execute("""
        DO $$
        DECLARE r record; candidate text; k int;
        BEGIN
            FOR r IN SELECT role_id, role_name FROM (
                         SELECT role_id, role_name,
                                row_number() OVER (PARTITION BY lower(role_name) ORDER BY role_id) AS n
                         FROM roles) numbered
                     WHERE n > 1 ORDER BY role_id LOOP
                k := 2;
                LOOP
                    candidate := left(r.role_name, 240) || ' (' || k || ')';
                    EXIT WHEN NOT EXISTS (SELECT 1 FROM roles WHERE lower(role_name) = lower(candidate));
                    k := k + 1;
                END LOOP;
                UPDATE roles SET role_name = candidate WHERE role_id = r.role_id;
            END LOOP;
        END $$
    """)
    op.create_index("uq_roles_role_name_lower", "roles", [sa.text("lower(role_name)")], unique=True)


def downgrade():
    op.drop_index("uq_roles_role_name_lower", table_name="roles")
    op.drop_column("users", "jwt_valid_after")
    op.drop_table("login_addresses")
