"""What the security tables say a role may do."""
from __future__ import annotations


def grants(sql, role: str) -> set[str]:
    """The role's permissions as "action on resource" names, read from role_permissions."""
    return {r[0] for r in sql(
        "SELECT p.permission_name FROM role_permissions rp JOIN permissions p USING (permission_id) "
        "JOIN roles r USING (role_id) WHERE r.role_name = :n", n=role)}
