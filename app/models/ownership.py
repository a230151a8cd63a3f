"""Record ownership: teams, and each role's data scope per owned table (enforced by RLS, migration 0026).

A user belongs to at most one team (`users.team_id`); a team has a leader. Each role
has a scope per owned table: its own records, its team's, or all. A role without a
row for a table sees its own records only (least privilege); a user's scope is the
widest of their roles'. The policies themselves live in the database (0026), so
every path obeys them, plain SQL as the runtime role included.
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Model, TimestampMixin

# the tables with an owner_id, and the key of each (their (owner_id, key) indexes serve lists by owner)
OWNED_TABLES: dict[str, str] = {"customers": "customer_id", "leads": "lead_id",
                                "opportunities": "opportunity_id", "service_tickets": "ticket_id"}
SCOPES = ("own", "team", "all")  # narrowest first: a user with several roles gets the widest
DEFAULT_SCOPE = "own"  # a role without a row for a table
# a new record is owned by whoever is acting (app/audit/context.py sets crm.user_id), on every path
OWNER_DEFAULT = text("NULLIF(current_setting('crm.user_id', true), '')::integer")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Team(TimestampMixin, Model):
    """A sales team: its members (users.team_id) and its leader."""

    __tablename__ = "teams"

    team_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    # SET NULL: deleting the leader's account leaves the team without a leader, not without members
    leader_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("users.user_id", ondelete="SET NULL", use_alter=True), index=True)

    # post_update: a new team's leader may be one of its new members (rows pointing at each other)
    leader = relationship("User", foreign_keys=[leader_id], post_update=True)
    # passive_deletes=True (not "all"): deleting a team is not refused for its members; the
    # database's SET NULL leaves them without a team
    members = relationship("User", foreign_keys="User.team_id", back_populates="team",
                           passive_deletes=True, order_by="User.username")

    def __repr__(self) -> str:
        return self.name


class RoleDataScope(Model):
    """Which records of one owned table a role's users see: own, team or all."""

    __tablename__ = "role_data_scopes"
    __table_args__ = (
        CheckConstraint(_in("table_name", OWNED_TABLES), name="table_name"),
        CheckConstraint(_in("scope", SCOPES), name="scope"),
    )

    role_id: Mapped[int] = mapped_column(Integer, ForeignKey("roles.role_id", ondelete="CASCADE"),
                                         primary_key=True)
    table_name: Mapped[str] = mapped_column(Text, primary_key=True)
    scope: Mapped[str] = mapped_column(Text, nullable=False)

    role = relationship("Role", back_populates="data_scopes")

    def __repr__(self) -> str:
        return f"{self.table_name}: {self.scope}"


# The default roles' scopes (migration 0026 and the start-up sync, app/security/default_roles.py).
DEFAULT_SCOPES: dict[str, dict[str, str]] = {
    "Admin": dict.fromkeys(OWNED_TABLES, "all"),
    "Auditor": dict.fromkeys(OWNED_TABLES, "all"),
    "Sales Manager": dict.fromkeys(OWNED_TABLES, "team"),
    "Sales Rep": dict.fromkeys(OWNED_TABLES, "own"),
    "Support Agent": {**dict.fromkeys(OWNED_TABLES, "own"), "service_tickets": "all", "customers": "all"},
}
