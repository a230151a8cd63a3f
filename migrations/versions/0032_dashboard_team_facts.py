"""The dashboard's facts per team: who was in each team when they were built.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07

The reports job now also writes each team's rows, summed over its members (holder
-1 - team_id, app/models/dashboard.py), so a team's year is a dozen rows per metric
instead of members x months. They are right only while the team has the members it
had then: dashboard_refresh.teams keeps {team id: [member ids]} of the build, and the
dashboard reads a team's rows only when the team still has exactly those members.
Row-level security needs no change: a negative holder is never among a user's visible
owners, so team rows show only to scope "all", like the company-wide rows (0029).
The existing facts have no team rows until the next build: the dashboard reads the
members' rows meanwhile (teams is NULL).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("dashboard_refresh", sa.Column("teams", postgresql.JSONB(), nullable=True))


def downgrade():
    op.execute("DELETE FROM dashboard_facts WHERE holder < -1")
    op.drop_column("dashboard_refresh", "teams")
