"""What the security tables say a role may do."""
from __future__ import annotations


def grants(sql, role: str) -> set[str]:
    """The role's permissions as "action on resource" names, read from role_permissions."""
    return {r[0] for r in sql(
        "SELECT p.permission_name FROM role_permissions rp JOIN permissions p USING (permission_id) "
        "JOIN roles r USING (role_id) WHERE r.role_name = :n", n=role)}


def role_with(app, sql, role: str, username: str, granted: dict[str, tuple[str, ...]]) -> None:
    """A role granted `{resource: (action, ...)}` only, and a user `username` of it (password ROLE_PASSWORD)."""
    from tests.support.users import ROLE_PASSWORD, add_user

    sql("INSERT INTO roles (role_name) VALUES (:r)", r=role)
    for resource, actions in granted.items():
        sql("INSERT INTO role_permissions (role_id, permission_id) SELECT r.role_id, p.permission_id "
            "FROM roles r, permissions p JOIN actions a ON a.id = p.action_id JOIN resources v ON v.id = p.resource_id "
            "WHERE r.role_name = :r AND v.name = :v AND a.name = ANY(:a)", r=role, v=resource, a=list(actions))
    add_user(app, username, username.title(), "Reader", role, ROLE_PASSWORD)
