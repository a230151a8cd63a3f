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

Row-level security on the four owned tables, and on contacts and activities (which follow
their customer), for every role but the tables' owner: the runtime role crm_app is limited, the owner role (migrations, `crm seed`,
`logs maintain`) owns the tables and is not limited. A row is visible when the acting user's
widest scope on its table is "all", or its owner is among the owners the user may see (own:
the user; team: the user and the members of the teams they are in or lead). The user's scope
and owner list come from two STABLE SECURITY DEFINER functions called in scalar sub-selects,
so each is an InitPlan evaluated once per statement, and `owner_id = ANY(...)` can read the
(owner_id, key) index. No user set (plain SQL as crm_app): no rows, and nothing may be written.
"""
import sqlalchemy as sa
from alembic import op

from migrations.helpers import audit_table, enable_rls

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

UTC_NOW = sa.text("(now() AT TIME ZONE 'utc')")
OWNED = {"customers": "customer_id", "leads": "lead_id", "opportunities": "opportunity_id",
         "service_tickets": "ticket_id"}
USER_ID = "NULLIF(current_setting('crm.user_id', true), '')::integer"  # the acting user (app/audit/context.py)
OWNER_DEFAULT = USER_ID
# role name -> scope per owned table (frozen here; app/models/ownership.py keeps the live copy)
DEFAULT_SCOPES = {
    "Admin": dict.fromkeys(OWNED, "all"),
    "Auditor": dict.fromkeys(OWNED, "all"),
    "Sales Manager": dict.fromkeys(OWNED, "team"),
    "Sales Rep": dict.fromkeys(OWNED, "own"),
    "Support Agent": {**dict.fromkeys(OWNED, "own"), "service_tickets": "all", "customers": "all"},
}

FUNCTIONS = [
    # The acting user's widest scope on an owned table: NULL without a user; a role without a
    # row for the table has "own". SECURITY DEFINER: reads users, roles and scopes as their owner.
    f"""
CREATE FUNCTION crm_data_scope(tbl text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT (ARRAY['own', 'team', 'all'])[max(array_position(ARRAY['own', 'team', 'all'],
                                                            coalesce(s.scope, 'own')))]
    FROM users AS u LEFT JOIN role_data_scopes AS s ON s.role_id = u.role_id AND s.table_name = tbl
    WHERE u.user_id = {USER_ID} AND u.active
$$""",
    """
CREATE FUNCTION crm_sees_all(tbl text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT coalesce(crm_data_scope(tbl) = 'all', false)
$$""",
    # The owners whose records the acting user sees on a table (empty without a user; with
    # scope "all" every record is visible anyway, unowned ones included).
    f"""
CREATE FUNCTION crm_visible_owner_ids(tbl text) RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT CASE crm_data_scope(tbl)
        WHEN 'own' THEN ARRAY[{USER_ID}]
        WHEN 'team' THEN ARRAY[{USER_ID}] || ARRAY(
            SELECT m.user_id FROM users AS m
            WHERE m.team_id IN (SELECT u.team_id FROM users AS u WHERE u.user_id = {USER_ID}
                                UNION SELECT t.team_id FROM teams AS t WHERE t.leader_id = {USER_ID})
              AND m.user_id <> {USER_ID})
        WHEN 'all' THEN ARRAY[{USER_ID}]
        ELSE '{{}}'::integer[] END
$$""",
]


# Report snapshots are company-wide figures: shown to a user who sees every owned record, and to
# the app's own jobs (no user: the scheduler and `crm reports generate` write and read them).
# Anyone may add one (the jobs do, without a user); changing or deleting one needs the same sight.
REPORTS_VISIBLE = (f"(SELECT {USER_ID} IS NULL "
                   "OR (" + " AND ".join(f"crm_sees_all('{t}')" for t in OWNED) + "))")
REPORTS_POLICIES = {"select": ("SELECT", f"USING ({REPORTS_VISIBLE})"),
                    "insert": ("INSERT", "WITH CHECK (true)"),
                    "update": ("UPDATE", f"USING ({REPORTS_VISIBLE})"),
                    "delete": ("DELETE", f"USING ({REPORTS_VISIBLE})")}


def visible(table: str) -> str:
    """The policy's test for a row of an owned table: once-per-statement InitPlans, then the index."""
    return (f"(SELECT crm_sees_all('{table}')) "
            f"OR owner_id = ANY ((SELECT crm_visible_owner_ids('{table}'))::integer[])")


# contacts and activities follow their customer: the EXISTS reads customers under its own policy
# (for a user who sees every customer, the first test answers without looking)
FOLLOWERS = {
    "contacts": "(SELECT crm_sees_all('customers')) OR EXISTS "
                "(SELECT FROM customers AS c WHERE c.customer_id = contacts.customer_id)",
    "activities": "(SELECT crm_sees_all('customers')) OR EXISTS "
                  "(SELECT FROM customers AS c WHERE c.customer_id = activities.customer_id) "
                  "OR (activities.customer_id IS NULL AND EXISTS "
                  "(SELECT FROM contacts AS p WHERE p.contact_id = activities.contact_id))",
}


# The search's word and bigram functions: not inlined any more (a SET clause), so a condition on
# them stays one call that can be marked LEAKPROOF (app/ops/embedded_db.py) and so use its index
# under row-level security; inlined, it holds COALESCE and a sub-select, which never can.
SEARCH_FUNCTIONS = ("crm_search_vector(text)", "crm_cjk_bigrams(text)")


def enable_policies() -> None:
    for function in FUNCTIONS:
        op.execute(function)
    for name in SEARCH_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {name} SET search_path = pg_catalog, public")
    policies = {**{t: (visible(t), visible(t)) for t in OWNED}, **{t: (u, u) for t, u in FOLLOWERS.items()}}
    for name in ("crm_data_scope(text)", "crm_sees_all(text)", "crm_visible_owner_ids(text)"):
        op.execute(f"GRANT EXECUTE ON FUNCTION {name} TO PUBLIC")  # every role's policies call them
    for table, (using, check) in policies.items():
        # TO PUBLIC: the runtime role (crm_app, or another name on an external server) and any
        # other role; the owner role is not limited (it owns the table, which is not FORCEd)
        enable_rls(table, using, check)
    op.execute("ALTER TABLE reports ENABLE ROW LEVEL SECURITY")
    for name, (command, test) in REPORTS_POLICIES.items():
        op.execute(f"CREATE POLICY reports_{name} ON reports FOR {command} TO PUBLIC {test}")


def disable_policies() -> None:
    for name in SEARCH_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {name} RESET search_path")
    for name in REPORTS_POLICIES:
        op.execute(f"DROP POLICY IF EXISTS reports_{name} ON reports")
    op.execute("ALTER TABLE reports DISABLE ROW LEVEL SECURITY")
    for table in (*OWNED, *FOLLOWERS):
        op.execute(f"DROP POLICY IF EXISTS {table}_scope ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for name in ("crm_visible_owner_ids(text)", "crm_sees_all(text)", "crm_data_scope(text)"):
        op.execute(f"DROP FUNCTION {name}")


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
    audit_table("teams", "role_data_scopes")
    op.get_bind().execute(
        sa.text("INSERT INTO role_data_scopes (role_id, table_name, scope) "
                "SELECT role_id, :t, :s FROM roles WHERE role_name = :r"),
        [{"r": role, "t": table, "s": scope}
         for role, scopes in DEFAULT_SCOPES.items() for table, scope in scopes.items()])
    enable_policies()


def downgrade():
    disable_policies()
    op.drop_table("role_data_scopes")
    for table in OWNED:
        op.drop_index(f"ix_{table}_owner_id", table)
        op.drop_constraint(op.f(f"fk_{table}_owner_id_users"), table, type_="foreignkey")
        op.drop_column(table, "owner_id")
    op.drop_index(op.f("ix_users_team_id"), "users")
    op.drop_constraint(op.f("fk_users_team_id_teams"), "users", type_="foreignkey")
    op.drop_column("users", "team_id")
    op.drop_table("teams")
