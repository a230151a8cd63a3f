"""Permissions in plain words: FAB's "can_xxx on SomeView" rows grouped into subjects
(a CRM table, the dashboard, users, ...) and readable actions (read, create, edit, ...).

A subject gathers every resource that serves it: the screen, its REST API and its menu
entry, so "Customers: create" means can_add on the screen and can_post on the API.
Menu categories (Sales, Admin, ...) are not shown: a role sees a category when it sees
one of its entries.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from flask_appbuilder import AppBuilder
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy import delete, insert, select

from app.extensions import db
from app.models.security import Action, Permission, Resource, Role, User, role_permissions

ACTIONS = ["read", "create", "edit", "delete", "export", "import"]
ACTION_HELP = {
    "read": _l("see the menu entry, lists, records and the API's GET"),
    "create": _l("add records (screen and API POST)"),
    "edit": _l("change records (screen and API PUT)"),
    "delete": _l("delete records (screen and API DELETE)"),
    "export": _l("download / export data"),
    "convert": _l("convert leads into a customer, contact and opportunity"),
    "import": _l("import records from a CSV file"),
}
ACTION_LABELS = {"read": _l("read"), "create": _l("create"), "edit": _l("edit"), "delete": _l("delete"),
                 "export": _l("export"), "reset password": _l("reset password")}
READABLE = {
    "can_list": "read", "can_show": "read", "can_get": "read", "can_info": "read",
    "menu_access": "read", "can_read": "read", "can_this_form_get": "read", "can_search": "read",
    "can_add": "create", "can_post": "create",
    "can_edit": "edit", "can_put": "edit", "can_this_form_post": "edit",
    "can_refresh": "edit",  # the dashboard's "Refresh now"
    "can_delete": "delete",
    "can_download": "export", "can_export": "export", "can_csv": "export",
    "can_import": "import",
}
# Pairs and resources that belong to another subject than their view's.
PAIRS = {
    ("can_userinfo", "UserView"): ("account", "read"),
    ("resetmypassword", "UserView"): ("account", "edit"),
    ("userinfoedit", "UserView"): ("account", "edit"),
    ("resetpasswords", "UserView"): ("users", "reset password"),
    ("copyrole", "RoleView"): ("roles", "create"),
}
RESOURCES = {
    "ResetPasswordView": ("users", "reset password"),
    "ResetMyPasswordView": ("account", "edit"),
    "UserInfoEditView": ("account", "edit"),
    "MenuApi": ("account", "read"),  # FAB's menu API, no longer served (FAB_ADD_MENU_API): older databases' rows
    "OpenApi": ("api-docs", "read"),
    "SwaggerView": ("api-docs", "read"),
    "Operations": ("operations", "operate"),  # the menu entry: not "read", which Auditor has on everything
}
LABELS = {
    "account": _l("Own account (profile, own password)"),
    "api-docs": _l("API documentation"),
    "apikeys": _l("API keys"),
    "permission-matrix": _l("Permission matrix"),
    "service_tickets": _l("Service tickets"),
    "logs": _l("Logs (audit)"),
    "search": _l("Search"),
}


def action_label(action: str) -> str:
    """A readable action in the user's language ('read' -> '查看')."""
    return str(ACTION_LABELS.get(action, action))


def partly(action: str) -> str:
    return gettext("%(action)s (partly)", action=action_label(action))


@dataclass(frozen=True)
class Entry:
    permission_id: int
    action: str
    resource: str
    subject: str
    readable: str


@dataclass
class Catalog:
    """Every permission row, as (subject, readable action), plus the menu categories."""

    entries: list[Entry]
    labels: dict[str, str]
    order: list[str]
    categories: dict[int, set[int]] = field(default_factory=dict)  # category perm -> child perms

    def subjects(self) -> list[str]:
        present = {e.subject for e in self.entries}
        return [s for s in self.order if s in present] + sorted(present - set(self.order))

    def actions_of(self, subject: str) -> list[str]:
        found = {e.readable for e in self.entries if e.subject == subject}
        return [a for a in ACTIONS if a in found] + sorted(found - set(ACTIONS))

    def ids(self, subject: str, readable: str) -> set[int]:
        return {e.permission_id for e in self.entries if e.subject == subject and e.readable == readable}

    def label(self, subject: str) -> str:
        return str(self.labels.get(subject) or subject.replace("_", " ").replace("-", " ").capitalize())

    def cells(self, granted: set[int]) -> dict[tuple[str, str], str]:
        """(subject, action) -> 'all' | 'some' | 'none' for a set of granted permission ids."""
        result = {}
        for subject in self.subjects():
            for action in self.actions_of(subject):
                ids = self.ids(subject, action)
                have = len(ids & granted)
                result[subject, action] = "all" if have == len(ids) else ("some" if have else "none")
        return result

    def summary(self, cells: dict[tuple[str, str], str], subject: str) -> str:
        """'read, create, edit (partly)' for one subject of one role's cells."""
        words = [action_label(a) if cells[subject, a] == "all" else partly(a)
                 for a in self.actions_of(subject) if cells[subject, a] != "none"]
        return gettext(", ").join(words) or "—"

    def with_categories(self, granted: set[int]) -> set[int]:
        """The set with each menu category granted exactly when one of its entries is."""
        granted = granted - set(self.categories)
        return granted | {cat for cat, children in self.categories.items() if children & granted}


def _view_subjects(appbuilder: AppBuilder) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """resource name -> subject key, subject labels from the menu, and menu order."""
    subjects: dict[str, str] = {}
    labels: dict[str, str] = {}
    for view in appbuilder.baseviews:
        datamodel = getattr(view, "datamodel", None)
        if datamodel is not None:
            key = datamodel.obj.__tablename__
        else:
            key = (getattr(view, "route_base", "") or "").strip("/") or view.class_permission_name
        subjects.setdefault(view.class_permission_name, key)
    order: list[str] = []
    admin: list[str] = []  # the Admin menu's subjects go last: business data first
    for item in appbuilder.menu.get_list():
        for child in item.childs or [item]:
            if child.baseview is not None:
                key = subjects.get(child.baseview.class_permission_name)
                if key:
                    subjects[child.name] = key
                    labels.setdefault(key, str(child.label or child.name))
                    (admin if item.name == "Admin" else order).append(key)
    return subjects, labels, order + admin


def catalog(appbuilder: AppBuilder) -> Catalog:
    view_subjects, menu_labels, order = _view_subjects(appbuilder)
    category_names = {item.name: {c.name for c in item.childs}
                      for item in appbuilder.menu.get_list() if item.childs}
    rows = db.session.execute(
        select(Permission.permission_id, Action.name, Resource.name)
        .join(Action, Action.id == Permission.action_id)
        .join(Resource, Resource.id == Permission.resource_id)
    ).all()
    entries, menu_ids = [], {}
    category_ids: dict[int, str] = {}
    for pid, action, resource in rows:
        if action == "menu_access":
            menu_ids[resource] = pid
            if resource in category_names:
                category_ids[pid] = resource
                continue
        if (action, resource) in PAIRS:
            subject, readable = PAIRS[action, resource]
        elif resource in RESOURCES:
            subject, readable = RESOURCES[resource]
        else:
            subject = view_subjects.get(resource, resource)
            readable = READABLE.get(action) or action.removeprefix("can_").replace("_", " ")
        entries.append(Entry(pid, action, resource, subject, readable))
    categories = {pid: {menu_ids[c] for c in category_names[name] if c in menu_ids}
                  for pid, name in category_ids.items()}
    labels = {**menu_labels, **LABELS}
    return Catalog(entries, labels, order + ["account", "api-docs"], categories)


def granted_ids(role_id: int) -> set[int]:
    return set(db.session.scalars(
        select(role_permissions.c.permission_id).where(role_permissions.c.role_id == role_id)))


def set_role_permissions(role_id: int, wanted: set[int]) -> tuple[int, int]:
    """Replace a role's permissions (caller commits: one transaction); (added, removed)."""
    current = granted_ids(role_id)
    removed, added = current - wanted, wanted - current
    if removed:
        db.session.execute(delete(role_permissions).where(
            role_permissions.c.role_id == role_id, role_permissions.c.permission_id.in_(removed)))
    if added:
        db.session.execute(insert(role_permissions),
                           [{"role_id": role_id, "permission_id": pid} for pid in sorted(added)])
    return len(added), len(removed)


def apply_matrix(cat: Catalog, role_id: int, checked: set[tuple[str, str]],
                 shown: dict[tuple[str, str], str]) -> set[int]:
    """The role's new permission set from the submitted checkboxes.

    A checked cell grants every permission behind it, an unchecked one revokes them all;
    a cell that was partly granted and is left checked keeps exactly what it had.
    """
    granted = granted_ids(role_id)
    for (subject, action), before in shown.items():
        ids = cat.ids(subject, action)
        if (subject, action) in checked:
            if before != "some":
                granted |= ids
        else:
            granted -= ids
    return cat.with_categories(granted)


def clone_role(source: Role, name: str) -> Role:
    """A new role with the same permissions (caller commits)."""
    role = Role(role_name=name)
    db.session.add(role)
    db.session.flush()
    set_role_permissions(role.role_id, granted_ids(source.role_id))
    return role


def effective(cat: Catalog, user: User) -> dict[str, list[str]]:
    """What a user may do, subject label -> readable actions (partly granted ones marked)."""
    cells = cat.cells(granted_ids(user.role_id))
    result: dict[str, list[str]] = defaultdict(list)
    for (subject, action), state in cells.items():
        if state != "none":
            result[cat.label(subject)].append(action_label(action) if state == "all" else partly(action))
    return dict(result)
