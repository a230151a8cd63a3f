"""Default roles with least-privilege permission sets, created and extended by the start-up sync.

The sync never undoes an admin's edit: a default role is created once (and not again if an
admin deletes it); afterwards it only gains the permissions of resources (screens, APIs,
menu entries) that appeared since the previous sync. Every grant is recorded in
`default_role_grants`, and the resources seen in `security_synced_resources`.
"""
from __future__ import annotations

import logging

from flask import current_app
from flask_appbuilder import AppBuilder
from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.security.access import ACTIONS, Catalog, Entry, catalog, granted_ids, set_role_permissions
from app.extensions import db
from app.models import (DefaultRole, DefaultRoleGrant, Permission, Resource, Role, RoleDataScope,
                        SyncedPermission, SyncedResource)
from app.models.ownership import DEFAULT_SCOPES

log = logging.getLogger(__name__)

SALES_TABLES = ("customers", "contacts", "leads", "opportunities", "activities")
ALL = tuple(ACTIONS)

# subject -> readable actions; "*" means every subject.
DEFAULT_ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    "Sales Manager": {
        **{t: ALL for t in SALES_TABLES},
        "leads": (*ALL, "convert"),
        "pipeline": ("read",),
        "service_tickets": ("read",),
        "reports": ("read", "export"),
        "dashboard": ("read", "edit"),  # edit = "Refresh now"
        "search": ("read",),
        "account": ("read", "edit"),
    },
    "Sales Rep": {
        **{t: ("read", "create", "edit") for t in SALES_TABLES},
        "leads": ("read", "create", "edit", "convert"),
        "pipeline": ("read",),
        "dashboard": ("read",),
        "search": ("read",),
        "account": ("read", "edit"),
    },
    "Support Agent": {
        "service_tickets": ALL,
        "customers": ("read",),
        "contacts": ("read",),
        "activities": ("create",),
        "search": ("read",),
        "account": ("read", "edit"),
    },
    "Auditor": {
        "*": ("read", "export"),
        "account": ("read", "edit"),  # own password only: nothing else is writable
    },
}


# Subjects only the Admin role gets: "*" (the Auditor's read-everything) does not reach them.
# The webhooks screen shows where the CRM's data is sent, and its secrets sign that data;
# an API key acts as any user it is made for. Custom fields change the tables themselves.
ADMIN_ONLY = frozenset({"webhooks", "apikeys", "fields"})


def spec_allows(spec: dict[str, tuple[str, ...]], entry: Entry) -> bool:
    fallback = () if entry.subject in ADMIN_ONLY else spec.get("*", ())
    return entry.readable in spec.get(entry.subject, fallback)


def spec_ids(cat: Catalog, spec: dict[str, tuple[str, ...]], resources: set[str] | None = None,
             permissions: set[int] | None = None) -> set[int]:
    """Permission ids a spec grants; when limited, only those on `resources` or among `permissions`."""
    if resources is None and permissions is None:
        return {e.permission_id for e in cat.entries if spec_allows(spec, e)}
    return {e.permission_id for e in cat.entries if spec_allows(spec, e)
            and (e.resource in (resources or ()) or e.permission_id in (permissions or ()))}


def give_default_scopes(role: Role) -> None:
    """The role's default data scopes (app/models/ownership.py), when it has none yet."""
    scopes = DEFAULT_SCOPES.get(role.role_name)
    if scopes and db.session.scalar(select(RoleDataScope.role_id).where(RoleDataScope.role_id == role.role_id)
                                    .limit(1)) is None:
        db.session.execute(insert(RoleDataScope), [{"role_id": role.role_id, "table_name": t, "scope": s}
                                                   for t, s in scopes.items()])


def sync_default_roles(appbuilder: AppBuilder) -> None:
    """Create missing default roles; give existing ones the permissions of new resources only."""
    admin = db.session.scalar(select(Role).where(Role.role_name == current_app.config["AUTH_ROLE_ADMIN"]))
    if admin is not None and admin.role_name in DEFAULT_SCOPES:
        give_default_scopes(admin)  # FAB creates the Admin role; it sees every record
    cat = catalog(appbuilder)
    known = set(db.session.scalars(select(SyncedResource.name)))
    resources = set(db.session.scalars(select(Resource.name)))
    new = resources - known
    # a new action on a known resource (e.g. can_convert on LeadView) is new too
    seen = set(db.session.scalars(select(SyncedPermission.name)))
    permission_names = dict(db.session.execute(select(Permission.permission_id, Permission.permission_name)).all())
    new_permissions = {pid for pid, name in permission_names.items() if name not in seen}
    created = set(db.session.scalars(select(DefaultRole.role_name)))
    for name, spec in DEFAULT_ROLES.items():
        role = db.session.scalar(select(Role).where(Role.role_name == name))
        if name not in created:
            if role is not None:
                continue  # an admin made a role of this name: it is theirs
            role = Role(role_name=name)
            db.session.add(role)
            db.session.flush()
            db.session.add(DefaultRole(role_name=name))
            give_default_scopes(role)
            grant = spec_ids(cat, spec)
        elif role is None:
            continue  # deleted by an admin: stays deleted
        else:
            grant = spec_ids(cat, spec, new, new_permissions)
        current = granted_ids(role.role_id)
        # a menu category comes with a granted entry; nothing is ever taken away here
        categories = {c for c, entries in cat.categories.items() if entries & (current | grant)}
        added = (grant | categories) - current
        if added:
            set_role_permissions(role.role_id, current | added)
            names = db.session.scalars(select(Permission.permission_name).where(
                Permission.permission_id.in_(added)))
            db.session.execute(pg_insert(DefaultRoleGrant).on_conflict_do_nothing(),
                               [{"role_name": name, "permission_name": n} for n in names])
            log.info("default role %s: %d permission(s) granted", name, len(added))
    if new:
        db.session.execute(insert(SyncedResource), [{"name": n} for n in sorted(new)])
    if new_permissions:
        db.session.execute(pg_insert(SyncedPermission).on_conflict_do_nothing(),
                           [{"name": permission_names[p]} for p in sorted(new_permissions)])
    db.session.commit()
