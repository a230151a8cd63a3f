"""Record ownership: teams, owners on customers/leads/opportunities/service_tickets, data scopes per role.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06

- teams (a leader; members by users.team_id: a user is in at most one team).
- owner_id on the four owned tables: by default the acting user (`crm.user_id`, set per
  transaction by app/audit/context.py), so every path (screens, API, import, lead
  conversion) makes its creator the owner; RESTRICT: a user who owns records is not
  deleted by accident. Existing rows stay unowned (NULL): only scope "all" sees them.
  (owner_id, key) indexes: lists by owner and the row-level policies' owner test.
- role_data_scopes: per role and owned table, own / team / all; no row means own.
  The default roles get their defaults here (the start-up sync gives them to new instances).
teams and role_data_scopes are audited like every table.
"""
import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")
OWNED = {"customers": "customer_id", "leads": "lead_id", "opportunities": "opportunity_id",
         "service_tickets": "ticket_id"}
OWNER_DEFAULT = "NULLIF(current_setting('crm.user_id', true), '')::integer"
# role name -> scope per owned table (frozen here; app/models/ownership.py keeps the live copy)
DEFAULT_SCOPES = {
    "Admin": dict.fromkeys(OWNED, "all"),
    "Auditor": dict.fromkeys(OWNED, "all"),
    "Sales Manager": dict.fromkeys(OWNED, "team"),
    "Sales Rep": dict.fromkeys(OWNED, "own"),
    "Support Agent": {**dict.fromkeys(OWNED, "own"), "service_tickets": "all", "customers": "all"},
}


def upgrade():
    op.create_table(
        "teams",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=UTC_NOW, nullable=False),
        sa.ForeignKeyConstraint(["leader_id"], ["users.user_id"], name=op.f("fk_teams_leader_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_index(op.f("ix_teams_leader_id"), "teams", ["leader_id"])
    op.execute("CREATE TRIGGER teams_touch BEFORE UPDATE ON teams FOR EACH ROW EXECUTE FUNCTION crm_touch_row()")
    op.add_column("users", sa.Column("team_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_users_team_id_teams"), "users", "teams", ["team_id"], ["team_id"],
                          ondelete="SET NULL")
    op.create_index(op.f("ix_users_team_id"), "users", ["team_id"])
    for table, key in OWNED.items():
        # the default is set after the column exists: existing rows stay NULL (unowned)
        op.add_column(table, sa.Column("owner_id", sa.Integer(), nullable=True))
        op.alter_column(table, "owner_id", server_default=sa.text(OWNER_DEFAULT))
        op.create_foreign_key(op.f(f"fk_{table}_owner_id_users"), table, "users", ["owner_id"], ["user_id"],
                              ondelete="RESTRICT")
        op.create_index(f"ix_{table}_owner_id", table, ["owner_id", key])
    op.create_table(
        "role_data_scopes",
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.CheckConstraint("table_name IN ('customers', 'leads', 'opportunities', 'service_tickets')",
                           name=op.f("ck_role_data_scopes_table_name")),
        sa.CheckConstraint("scope IN ('own', 'team', 'all')", name=op.f("ck_role_data_scopes_scope")),
        sa.ForeignKeyConstraint(["role_id"], ["roles.role_id"], name=op.f("fk_role_data_scopes_role_id_roles"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("role_id", "table_name", name=op.f("pk_role_data_scopes")),
    )
    op.execute("SELECT crm_audit_enable('teams'::regclass)")
    op.execute("SELECT crm_audit_enable('role_data_scopes'::regclass)")
    op.get_bind().execute(
        sa.text("INSERT INTO role_data_scopes (role_id, table_name, scope) "
                "SELECT role_id, :t, :s FROM roles WHERE role_name = :r"),
        [{"r": role, "t": table, "s": scope}
         for role, scopes in DEFAULT_SCOPES.items() for table, scope in scopes.items()])


def downgrade():
    op.drop_table("role_data_scopes")
    for table in OWNED:
        op.drop_index(f"ix_{table}_owner_id", table)
        op.drop_constraint(op.f(f"fk_{table}_owner_id_users"), table, type_="foreignkey")
        op.drop_column(table, "owner_id")
    op.drop_index(op.f("ix_users_team_id"), "users")
    op.drop_constraint(op.f("fk_users_team_id_teams"), "users", type_="foreignkey")
    op.drop_column("users", "team_id")
    op.drop_table("teams")
