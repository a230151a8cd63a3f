"""Every default role against every screen and API endpoint: allowed or refused.

The expected table is the default-roles table of docs/security.md, written out here on its own
(r = read, c = create, e = edit, d = delete). A refused request gets 403 and leaves
every table exactly as it was; an allowed one has its effect.
"""
from __future__ import annotations

import pytest

from tests.support.apps import ADMIN_PASSWORD
from tests.support.client import csrf_token, login
from tests.support.htmlforms import form_fields
from tests.support.screens import parents, screens
from tests.support.users import ROLE_PASSWORD, make_role_user, sql_as

SALES = ("customers", "contacts", "leads", "opportunities", "activities")
ADMIN_SCREENS = ("logs", "users", "roles", "permissions", "permission-matrix")
EXPECTED: dict[str, dict[str, str]] = {
    "Admin": {**{t: "rced" for t in SALES}, "service_tickets": "rced", "reports": "rced",
              "logs": "r", "users": "rced", "roles": "rced", "permissions": "r",
              "permission-matrix": "rce"},
    "Sales Manager": {**{t: "rced" for t in SALES}, "service_tickets": "r", "reports": "r"},
    "Sales Rep": {t: "rce" for t in SALES},
    "Support Agent": {"service_tickets": "rced", "customers": "r", "contacts": "r", "activities": "c"},
    "Auditor": {**{t: "r" for t in SALES}, "service_tickets": "r", "reports": "r",
                **{t: "r" for t in ADMIN_SCREENS}},
}
ROLES = list(EXPECTED)
SEE_ALL = ("Admin", "Auditor")  # data scope "all" on every owned table: they see report snapshots
TARGET_ROWS = {
    "customers": "INSERT INTO customers (name) VALUES ('Target') RETURNING customer_id",
    "contacts": "INSERT INTO contacts (customer_id, first_name, last_name) "
                "VALUES (:customer, 'Tar', 'Get') RETURNING contact_id",
    "leads": "INSERT INTO leads (source, contact_id) VALUES ('Target', :contact) RETURNING lead_id",
    "opportunities": "INSERT INTO opportunities (customer_id, name) VALUES (:customer, 'Target') "
                     "RETURNING opportunity_id",
    # whole-second times: the edit forms do not take microseconds back (see the note)
    "activities": "INSERT INTO activities (customer_id, type, subject, activity_date) "
                  "VALUES (:customer, 'call', 'Target', '2026-11-20 10:00') RETURNING activity_id",
    "service_tickets": "INSERT INTO service_tickets (customer_id, subject) VALUES (:customer, 'Target') "
                       "RETURNING ticket_id",
    "reports": "INSERT INTO reports (report_type, generated_at) VALUES ('Target', '2026-11-20 10:00') "
               "RETURNING report_id",
}
API = {"customers": "customers", "contacts": "contacts", "leads": "leads",
       "opportunities": "opportunities", "activities": "activities", "service_tickets": "tickets"}
WATCHED = ["customers", "contacts", "leads", "opportunities", "activities", "service_tickets", "reports",
           "logs", "users", "roles", "permissions", "role_permissions"]


def snapshot(sql) -> dict[str, str]:
    """A fingerprint of every watched table's rows."""
    parts = ", ".join(f"(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {t} t)"
                      for t in WATCHED)
    return dict(zip(WATCHED, sql(f"SELECT {parts}")[0]))


class Checker:
    """Runs requests as one user and checks allowed vs refused, with the database."""

    def __init__(self, client, sql, role: str, admin_sql) -> None:
        self.client, self.sql, self.role, self.admin_sql = client, sql, role, admin_sql
        self.failures: list[str] = []

    def target(self, table: str, ids: dict[str, str]) -> int:
        """A row to read, edit or delete: the user's own; a report snapshot (company-wide) made by the admin."""
        make = self.admin_sql if table == "reports" else self.sql
        return make(TARGET_ROWS[table], **{k: int(v) for k, v in ids.items()})[0][0]

    def allowed(self, subject: str, letter: str) -> bool:
        return letter in EXPECTED[self.role].get(subject, "")

    def check(self, subject: str, letter: str, label: str, send, effect) -> None:
        """send() -> response; effect() -> bool when the change happened."""
        before = snapshot(self.sql)
        response = send()
        if self.allowed(subject, letter):
            if response.status_code not in (200, 201, 302) or (effect is not None and not effect()):
                self.failures.append(f"{label}: expected allowed, got {response.status_code}")
        else:
            # 404: the route does not exist at all (the audit log has no add/edit/delete)
            if response.status_code not in (403, 401, 404) or snapshot(self.sql) != before:
                self.failures.append(f"{label}: expected refused, got {response.status_code}"
                                     + (" and the database changed" if snapshot(self.sql) != before else ""))


def _count(sql, table: str, where: str = "TRUE", **params) -> int:
    return sql(f"SELECT count(*) FROM {table} WHERE {where}", **params)[0][0]


def _crm_screens(checker: Checker, ids: dict[str, str]) -> None:
    client, sql = checker.client, checker.sql
    token = csrf_token(client, "/")
    for screen in screens(ids):
        subject, url, table, pk_col = screen.table, screen.url, screen.table, screen.pk
        pk, gone = (checker.target(table, ids) for _ in range(2))
        count = _count(sql, table)
        checker.check(subject, "r", f"GET {url}/list/", lambda: client.get(f"{url}/list/"), None)
        if table == "reports" and checker.allowed(subject, "r") and checker.role not in SEE_ALL:  # company-wide: hidden
            if client.get(f"{url}/show/{pk}").status_code != 404:
                checker.failures.append(f"GET {url}/show/{pk}: a snapshot shown to a user who sees only some rows")
        else:
            checker.check(subject, "r", f"GET {url}/show/{pk}", lambda: client.get(f"{url}/show/{pk}"), None)

        def add():
            page = client.get(f"{url}/add")
            fields = form_fields(page.get_data(as_text=True)) if page.status_code == 200 else {}
            return client.post(f"{url}/add", data={**fields, **screen.valid, "csrf_token": token})
        checker.check(subject, "c", f"POST {url}/add", add, lambda: _count(sql, table) == count + 1)

        def edit():
            page = client.get(f"{url}/edit/{pk}")
            fields = form_fields(page.get_data(as_text=True)) if page.status_code == 200 else {}
            return client.post(f"{url}/edit/{pk}", data={**fields, **screen.edit(), "csrf_token": token})
        checker.check(subject, "e", f"POST {url}/edit/{pk}", edit, lambda: _count(
            sql, table, f"{pk_col} = :pk AND {screen.edit_field} = :edited", pk=pk,
            edited=screen.edited_value) == 1)
        checker.check(subject, "d", f"POST {url}/delete/{gone}",
                      lambda: client.post(f"{url}/delete/{gone}", data={"csrf_token": token}),
                      lambda: _count(sql, table, f"{pk_col} = :pk", pk=gone) == 0)


def _api(checker: Checker, ids: dict[str, str], jwt: str) -> None:
    client, sql = checker.client, checker.sql
    headers = {"Authorization": f"Bearer {jwt}"}
    for screen in screens(ids):
        if screen.table not in API:
            continue
        table, pk_col, base = screen.table, screen.pk, f"/api/v1/{API[screen.table]}/"
        pk, gone = (checker.target(table, ids) for _ in range(2))
        body = {k: int(v) if k in ("customer", "contact") else v for k, v in screen.valid.items()}
        if "activity_date" in body:
            body["activity_date"] = body["activity_date"].replace(" ", "T")
        count = _count(sql, table)
        checker.check(table, "r", f"API GET {base}", lambda: client.get(base, headers=headers), None)
        checker.check(table, "r", f"API GET {base}{pk}", lambda: client.get(f"{base}{pk}", headers=headers), None)
        checker.check(table, "c", f"API POST {base}", lambda: client.post(base, json=body, headers=headers),
                      lambda: _count(sql, table) == count + 1)
        checker.check(table, "e", f"API PUT {base}{pk}",
                      lambda: client.put(f"{base}{pk}", json={screen.edit_field: "API edit"}, headers=headers),
                      lambda: _count(sql, table, f"{pk_col} = :pk AND {screen.edit_field} = 'API edit'", pk=pk) == 1)
        checker.check(table, "d", f"API DELETE {base}{gone}",
                      lambda: client.delete(f"{base}{gone}", headers=headers),
                      lambda: _count(sql, table, f"{pk_col} = :pk", pk=gone) == 0)


def _admin_screens(checker: Checker) -> None:
    client, sql = checker.client, checker.sql
    token = csrf_token(client, "/")
    (log_id,), = sql("INSERT INTO logs (action, description) VALUES ('test', 'x') RETURNING log_id")
    checker.check("logs", "r", "GET /logs/list/", lambda: client.get("/logs/list/"), None)
    checker.check("logs", "r", f"GET /logs/show/{log_id}", lambda: client.get(f"/logs/show/{log_id}"), None)
    checker.check("logs", "c", "POST /logs/add",
                  lambda: client.post("/logs/add", data={"action": "forged", "csrf_token": token}), None)
    checker.check("logs", "d", f"POST /logs/delete/{log_id}",
                  lambda: client.post(f"/logs/delete/{log_id}", data={"csrf_token": token}), None)

    (role_id,), = sql("SELECT role_id FROM roles WHERE role_name = 'Sales Rep'")
    (spare_role,), = sql("INSERT INTO roles (role_name) VALUES ('Spare') RETURNING role_id")
    (user_id,), = sql("SELECT user_id FROM users WHERE username = 'admin'")
    (other,), = sql("INSERT INTO users (username, email, role_id) VALUES ('other', 'other@example.com', :r) "
                    "RETURNING user_id", r=role_id)
    (perm_id,), = sql("SELECT permission_id FROM permissions LIMIT 1")
    for url in ("/users/list/", f"/users/show/{user_id}"):
        checker.check("users", "r", f"GET {url}", lambda: client.get(url), None)
    new_user = {"username": "made", "first_name": "M", "last_name": "A", "email": "made@example.com",
                "role": str(role_id), "active": "y", "password": "Str0ng-passw0rd!x",
                "conf_password": "Str0ng-passw0rd!x", "csrf_token": token}
    checker.check("users", "c", "POST /users/add", lambda: client.post("/users/add", data=new_user),
                  lambda: _count(sql, "users", "username = 'made'") == 1)

    def edit_user():
        page = client.get(f"/users/edit/{other}")
        fields = form_fields(page.get_data(as_text=True)) if page.status_code == 200 else {}
        return client.post(f"/users/edit/{other}", data={**fields, "first_name": "Renamed", "csrf_token": token})
    checker.check("users", "e", f"POST /users/edit/{other}", edit_user,
                  lambda: _count(sql, "users", "first_name = 'Renamed'") == 1)
    checker.check("users", "d", f"POST /users/delete/{other}",
                  lambda: client.post(f"/users/delete/{other}", data={"csrf_token": token}),
                  lambda: _count(sql, "users", "user_id = :u", u=other) == 0)

    for url in ("/roles/list/", f"/roles/show/{role_id}"):
        checker.check("roles", "r", f"GET {url}", lambda: client.get(url), None)
    checker.check("roles", "c", "POST /roles/add",
                  lambda: client.post("/roles/add", data={"role_name": "Made", "csrf_token": token}),
                  lambda: _count(sql, "roles", "role_name = 'Made'") == 1)
    checker.check("roles", "e", f"POST /roles/edit/{spare_role}",
                  lambda: client.post(f"/roles/edit/{spare_role}",
                                      data={"role_name": "Spare 2", "csrf_token": token}),
                  lambda: _count(sql, "roles", "role_name = 'Spare 2'") == 1)
    checker.check("roles", "d", f"POST /roles/delete/{spare_role}",
                  lambda: client.post(f"/roles/delete/{spare_role}", data={"csrf_token": token}),
                  lambda: _count(sql, "roles", "role_id = :r", r=spare_role) == 0)

    for url in ("/permissions/list/", f"/permissions/show/{perm_id}"):
        checker.check("permissions", "r", f"GET {url}", lambda: client.get(url), None)

    matrix = "permission-matrix"
    for url in ("/permission-matrix/", f"/permission-matrix/role/{role_id}",
                "/permission-matrix/user/?username=admin"):
        checker.check(matrix, "r", f"GET {url}", lambda: client.get(url), None)
    checker.check(matrix, "e", "POST /permission-matrix/role (revoke all)",
                  lambda: client.post(f"/permission-matrix/role/{role_id}",
                                      data={"cell": "customers:read", "was:customers:read": "all",
                                            "csrf_token": token}),
                  lambda: _count(sql, "role_permissions rp JOIN permissions p USING (permission_id)",
                                 "rp.role_id = :r AND p.permission_name = 'can_list on CustomerView'",
                                 r=role_id) == 0)
    checker.check(matrix, "c", "POST /permission-matrix/role/clone",
                  lambda: client.post(f"/permission-matrix/role/{role_id}/clone",
                                      data={"name": "Cloned", "csrf_token": token}),
                  lambda: _count(sql, "roles", "role_name = 'Cloned'") == 1)


@pytest.mark.parametrize("role", ROLES)
def test_default_role_may_do_exactly_what_its_table_says(app, client, role):
    username = "admin" if role == "Admin" else make_role_user(app, role)
    password = ADMIN_PASSWORD if role == "Admin" else ROLE_PASSWORD
    assert login(client, username, password).status_code == 302
    sql = sql_as(app, username)  # the rows are the user's own: their data scope reaches them (test_data_scopes.py)
    ids = parents(sql)
    checker = Checker(client, sql, role, sql_as(app))
    _crm_screens(checker, ids)
    jwt = client.post("/api/v1/security/login", json={"username": username, "password": password,
                                                      "provider": "db"}).get_json()["access_token"]
    _api(checker, ids, jwt)
    _admin_screens(checker)
    assert checker.failures == [], "\n".join(checker.failures)
