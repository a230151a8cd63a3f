"""FAB's security model mapped onto the seed's users / roles / permissions tables.

Attribute names equal the seed's column names; the names Flask-AppBuilder
expects (id, name, password, permission, view_menu, ...) are synonyms, so
FAB's security manager and views work on these tables without ab_* tables.
A `permissions` row is one FAB action on one resource ("can_edit on Customers").
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, SynonymProperty, mapped_column, relationship

from app.models.base import UTC_NOW, Model, TimestampMixin
from app.models.names import person_name


def synonym(name: str) -> SynonymProperty:
    # A plain SynonymProperty, not sqlalchemy.orm.synonym(): FAB's SQLAInterface
    # skips synonyms by exact type, and synonym() returns a subclass in SQLAlchemy 2.
    return SynonymProperty(name)


class Action(Model):
    """A FAB action such as can_list or can_edit (FAB calls this model Permission)."""

    __tablename__ = "actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)

    def __repr__(self) -> str:
        return self.name


class Resource(Model):
    """A FAB resource: a view or menu name (FAB calls this model ViewMenu)."""

    __tablename__ = "resources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(250), unique=True, nullable=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resource) and self.name == other.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return self.name


role_permissions = Table(
    "role_permissions",
    Model.metadata,
    Column("role_id", Integer, ForeignKey("roles.role_id", ondelete="CASCADE"), primary_key=True),
    Column(
        "permission_id",
        Integer,
        ForeignKey("permissions.permission_id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column("created_at", DateTime, nullable=False, server_default=UTC_NOW),
    Column("updated_at", DateTime, nullable=False, server_default=UTC_NOW),
)


class Permission(TimestampMixin, Model):
    """One action on one resource (FAB's PermissionView)."""

    __tablename__ = "permissions"
    __table_args__ = (UniqueConstraint("action_id", "resource_id"),)

    permission_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    permission_name: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    action_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("actions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    resource_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("resources.id", ondelete="CASCADE"), nullable=False, index=True
    )

    permission: Mapped[Action] = relationship(Action, lazy="joined")
    view_menu: Mapped[Resource] = relationship(Resource, lazy="joined")
    roles = relationship("Role", secondary=role_permissions, back_populates="permissions", viewonly=True)

    id = synonym("permission_id")
    view_menu_id = synonym("resource_id")

    def __repr__(self) -> str:
        return self.permission_name or describe_permission(self.permission, self.view_menu)


def describe_permission(action: Optional[Action], resource: Optional[Resource]) -> str:
    return f"{action.name if action else '?'} on {resource.name if resource else '?'}"


class Role(TimestampMixin, Model):
    __tablename__ = "roles"

    role_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role_name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)

    permissions = relationship(Permission, secondary=role_permissions, back_populates="roles")
    users = relationship("User", back_populates="role", passive_deletes="all")
    # which records of each owned table the role's users see (app/models/ownership.py)
    data_scopes = relationship("RoleDataScope", back_populates="role", cascade="all, delete-orphan",
                               passive_deletes=True)

    id = synonym("role_id")
    name = synonym("role_name")

    def __repr__(self) -> str:
        return self.role_name


# "Sales rep" beside "Sales Rep" would be two roles no one can tell apart
Index("uq_roles_role_name_lower", func.lower(Role.role_name), unique=True)


class User(TimestampMixin, Model):
    """A CRM user; one role per user (users.role_id), as the seed designs it."""

    __tablename__ = "users"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    email: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    password_hash: Mapped[Optional[str]] = mapped_column(String(255))
    role_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("roles.role_id", ondelete="RESTRICT"), nullable=False, index=True
    )
    first_name: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    last_name: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true", default=True)
    last_login: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    login_count: Mapped[Optional[int]] = mapped_column(Integer)
    # consecutive failed sign-ins from any address (per address: login_addresses)
    fail_login_count: Mapped[Optional[int]] = mapped_column(Integer)
    # end of the account-wide delay after many failures (UTC); addresses the account
    # signed in from are spared it (app/security/lockout.py)
    locked_until: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    # API tokens issued before this instant (UTC) are refused: set when the password changes
    jwt_valid_after: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    # UI language chosen in the top bar ("en", "zh"); NULL: the browser's Accept-Language decides
    locale: Mapped[Optional[str]] = mapped_column(String(10))
    # at most one team; SET NULL: deleting a team leaves its members without one
    team_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("teams.team_id", ondelete="SET NULL"), index=True)

    role: Mapped[Role] = relationship(Role, back_populates="users", lazy="joined")
    team = relationship("Team", foreign_keys=[team_id], back_populates="members")

    id = synonym("user_id")
    password = synonym("password_hash")
    created_on = synonym("created_at")
    changed_on = synonym("updated_at")

    # FAB speaks of a list of roles and of groups; the seed gives one role.
    @property
    def roles(self) -> list[Role]:
        return [self.role] if self.role is not None else []

    @roles.setter
    def roles(self, roles: list[Role]) -> None:
        roles = [r for r in (roles or []) if r is not None]
        if roles:
            self.role = roles[0]

    @property
    def groups(self) -> list:
        return []

    @groups.setter
    def groups(self, _groups: list) -> None:
        pass

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.user_id)

    def get_full_name(self) -> str:
        return person_name(self.first_name, self.last_name) or self.username

    def __repr__(self) -> str:
        return self.username
