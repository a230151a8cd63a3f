"""Server time of a few pages through the app (Flask test client), on the instance in CRM_INSTANCE_DIR.

    CRM_INSTANCE_DIR=instance python -m bench.pages [--runs 40]

Signs in as admin (password from $CRM_INSTANCE_DIR/admin-password) and prints
median and p95 per page, with FAB's permission checks cached per request (the
app's behaviour) and, for comparison, one query per check (FAB's behaviour).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench.timing import signed_in_client, time_get

PAGES = ["/dashboard/", "/customers/list/", "/activities/list/", "/customers/show/1", "/"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    from sqlalchemy import select

    from app import create_app
    from app.models.security import Action, Resource, role_permissions
    from app.security.manager import CrmSecurityManager

    app = create_app()
    instance = Path(os.environ.get("CRM_INSTANCE_DIR", "instance"))
    client = signed_in_client(app, "admin", (instance / "admin-password").read_text().strip())

    def measure(label: str) -> None:
        for path in PAGES:
            median, p95 = time_get(client, path, args.runs)
            print(f"{label:22} {path:20} median {median:7.1f} ms   p95 {p95:7.1f} ms")

    measure("per-request cache")

    def one_query_per_check(self, view_name, permission_name, role_ids):
        query = self._role_permission_query().where(
            Resource.name == view_name, Action.name == permission_name,
            role_permissions.c.role_id.in_(role_ids))
        return bool(self.session.scalar(select(query.exists())))

    CrmSecurityManager.exist_permission_on_roles = one_query_per_check
    measure("one query per check")


if __name__ == "__main__":
    main()
