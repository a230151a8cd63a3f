"""The audit log through the application: who did it, app events, the /logs/ screen, History panels."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import event
from werkzeug.datastructures import MultiDict

from tests.support.apps import ADMIN_PASSWORD
from tests.support.client import csrf_token, login
from tests.support.htmlforms import form_fields
from tests.support.screens import parents, screens
from tests.support.users import sql_as


def _admin_id(sql) -> int:
    return sql("SELECT user_id FROM users WHERE username = 'admin'")[0][0]


def _entries(sql, where: str, **params) -> list:
    return sql(f"SELECT user_id, action, table_name, record_key, description FROM logs WHERE {where} "
               "ORDER BY log_id", **params)


def test_screen_edit_is_logged_with_the_app_user_and_the_route(admin, sql):
    ids = parents(sql)
    cid = ids["customer"]
    fields = form_fields(admin.get(f"/customers/edit/{cid}").get_data(as_text=True))
    fields.update(industry="Logistics", revenue="5000")
    assert admin.post(f"/customers/edit/{cid}", data=fields).status_code == 302
    (user_id, action, table, key, description), = _entries(
        sql, "action = 'update customers' AND record_key = :k", k=cid)
    detail = json.loads(description)
    assert (user_id, table) == (_admin_id(sql), "customers")
    # the amount only as its ciphertext (hex); its coarse band (non-sensitive by design) in full
    revenue = detail["changes"].pop("revenue")
    assert revenue[0] is None and revenue[1].startswith("\\x")
    assert detail["changes"] == {"industry": [None, "Logistics"], "revenue_band": [None, 1]}
    assert detail["via"] == f"web POST /customers/edit/{cid}"


def test_api_change_is_logged_with_the_api_user(client, sql):
    token = client.post("/api/v1/security/login", json={
        "username": "admin", "password": ADMIN_PASSWORD, "provider": "db"}).get_json()["access_token"]
    response = client.post("/api/v1/customers/", json={"name": "API Co"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_data(as_text=True)
    (user_id, _, _, key, description), = _entries(sql, "action = 'insert customers'")
    assert user_id == _admin_id(sql) and key == str(response.get_json()["id"])
    assert json.loads(description)["via"] == "api POST /api/v1/customers/"


def test_logins_failed_logins_and_logouts_are_logged(client, sql):
    assert "/login" in login(client, "admin", "Bad-guess-123").headers["Location"]
    assert "/login" in login(client, "nobody", "whatever").headers["Location"]
    assert "/login" not in login(client).headers["Location"]
    client.get("/logout/")
    rows = _entries(sql, "action IN ('login', 'login failed', 'logout')")
    admin_id = _admin_id(sql)
    assert [(r.action, r.user_id) for r in rows] == [
        ("login failed", None), ("login failed", None), ("login", admin_id), ("logout", admin_id)]
    reasons = [json.loads(r.description).get("reason") for r in rows]
    assert reasons[:2] == ["wrong password", "unknown user"]
    assert (rows[0].table_name, rows[0].record_key) == ("users", str(admin_id))  # in admin's History
    assert all("Bad-guess" not in r.description and ADMIN_PASSWORD not in r.description for r in rows)


def test_permission_changes_are_logged_by_name(admin, sql):
    (role_id,), = sql("INSERT INTO roles (role_name) VALUES ('Auditor probe') RETURNING role_id")
    perms = dict(sql("SELECT permission_name, permission_id FROM permissions "
                     "WHERE permission_name IN ('can_list on LogView', 'can_show on LogView')"))
    page = admin.get(f"/roles/edit/{role_id}").get_data(as_text=True)
    fields = form_fields(page)
    data = [(k, v) for k, v in fields.items() if k != "permissions"]
    data += [("permissions", str(p)) for p in perms.values()]
    response = admin.post(f"/roles/edit/{role_id}", data=MultiDict(data))
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    (user_id, _, table, key, description), = _entries(
        sql, "action = 'permissions change' AND record_key = :k", k=str(role_id))
    assert (user_id, table, key) == (_admin_id(sql), "roles", str(role_id))
    assert json.loads(description) == {"role": "Auditor probe", "granted": sorted(perms), "revoked": []}


def test_logs_screen_is_read_only(admin, sql):
    sql("INSERT INTO logs (action, description) VALUES ('probe', 'read me')")
    (log_id,), = sql("SELECT log_id FROM logs WHERE action = 'probe'")
    assert admin.get("/logs/list/").status_code == 200
    assert "read me" in admin.get(f"/logs/show/{log_id}").get_data(as_text=True)
    for url in ("/logs/add", f"/logs/edit/{log_id}"):
        assert admin.get(url).status_code == 404
    token = csrf_token(admin, "/logs/list/")
    assert admin.post(f"/logs/delete/{log_id}", data={"csrf_token": token}).status_code in (404, 405)
    assert sql("SELECT description FROM logs WHERE log_id = :i", i=log_id) == [("read me",)]


def test_logs_screen_needs_a_log_reading_role(client, sql, app):
    (role_id,), = sql("INSERT INTO roles (role_name) VALUES ('Sales probe') RETURNING role_id")
    sql("INSERT INTO role_permissions (role_id, permission_id) SELECT :r, permission_id FROM permissions "
        "WHERE permission_name IN ('can_list on CustomerView', 'can_show on CustomerView')", r=role_id)
    from werkzeug.security import generate_password_hash

    sql("INSERT INTO users (username, email, password_hash, role_id) VALUES ('rep', 'rep@example.com', :h, :r)",
        h=generate_password_hash("Rep-password-1"), r=role_id)
    assert "/login" not in login(client, "rep", "Rep-password-1").headers["Location"]
    assert client.get("/logs/list/").status_code in (302, 403)
    # the rep's own record (row-level security: a role without a data scope sees what it owns)
    (cid,), = sql_as(app, "rep")("INSERT INTO customers (name) VALUES ('Visible Co') RETURNING customer_id")
    page = client.get(f"/customers/show/{cid}").get_data(as_text=True)
    assert "Visible Co" in page and "crm-history" not in page


def _seed_logs(sql, n: int, start: dt.datetime) -> None:
    sql("INSERT INTO logs (action, description, created_at, user_id, table_name, record_key) "
        "SELECT 'page probe', 'entry ' || g, CAST(:s AS timestamp) + g * interval '1 minute', "
        "CASE WHEN g % 10 = 0 THEN 1 END, 'contacts', (g % 15)::text FROM generate_series(1, :n) g",
        s=start, n=n)


def test_logs_pages_by_keyset_without_offset_or_count(admin, sql, app):
    _seed_logs(sql, 60, dt.datetime(2026, 1, 1))
    statements: list[str] = []
    from app.extensions import db

    with app.app_context():
        engine = db.engine

    def capture(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    url = "/logs/list/?_flt_0_action=page+probe&psize_LogView=25"
    seen, pages = [], []
    try:
        while url:
            page = admin.get(url).get_data(as_text=True)
            found = re.findall(r"entry (\d+)", page)
            pages.append(found)
            seen += found
            older = re.search(r'rel="next" href="([^"]+)"', page)
            url = older.group(1).replace("&amp;", "&") if older else None
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert [len(p) for p in pages] == [25, 25, 10]
    assert seen == [str(n) for n in range(60, 0, -1)]  # newest first, no gaps, no repeats
    log_queries = [s for s in statements if "FROM logs" in s]
    assert log_queries and not any("OFFSET" in s.upper() or "count(" in s.lower() for s in log_queries)
    newer = re.search(r'rel="prev" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert re.findall(r"entry (\d+)", admin.get(newer).get_data(as_text=True)) == pages[1]


def test_logs_filters_by_user_table_record_action_and_dates(admin, sql):
    _seed_logs(sql, 50, dt.datetime(2026, 2, 1))
    base = "/logs/list/?psize_LogView=100&"

    def entries(query: str) -> set[int]:
        return {int(n) for n in re.findall(r"entry (\d+)", admin.get(base + query).get_data(as_text=True))}

    assert _admin_id(sql) == 1
    assert entries("_flt_0_action=page+probe&_flt_0_user=1") == {10, 20, 30, 40, 50}
    assert entries("_flt_0_user_id=1&_flt_0_action=page+probe") == {10, 20, 30, 40, 50}
    # "equal to": record 1 is not records 10-14
    with admin.application.test_request_context():
        from app.lists.links import EQ, list_url

        url = list_url("/logs", ("table_name", EQ, "contacts"), ("record_key", EQ, "1"))
    assert entries(url.split("?", 1)[1]) == {1, 16, 31, 46}
    assert entries("_flt_0_action=page+probe&_flt_1_created_at=2026-02-01+00:40:30"
                   "&_flt_2_created_at=2026-02-01+00:45:30") == {41, 42, 43, 44, 45}
    assert entries("_flt_0_table_name=customers") == set()


def test_a_malformed_position_is_a_400(admin):
    assert admin.get("/logs/list/?after=yesterday").status_code == 400
    assert admin.get("/logs/list/?before=2026-01-01T00:00:00~99999999999").status_code == 400


@pytest.mark.parametrize("screen", screens({"customer": "0", "contact": "0"}), ids=lambda s: s.url)
def test_every_show_page_has_a_history_panel_with_its_own_entries(admin, sql, owner_sql, screen):
    ids = parents(sql)
    screen = next(s for s in screens(ids) if s.url == screen.url)
    fields = form_fields(admin.get(f"{screen.url}/add").get_data(as_text=True))
    fields.update(screen.valid)
    assert admin.post(f"{screen.url}/add", data=fields).status_code == 302
    (pk,), = sql(f"SELECT max({screen.pk}) FROM {screen.table}")
    # an operator in psql as the owner role: no application user (the runtime role needs one)
    owner_sql(f"UPDATE {screen.table} SET {screen.edit_field} = 'Changed in psql' WHERE {screen.pk} = :pk", pk=pk)
    page = admin.get(f"{screen.url}/show/{pk}").get_data(as_text=True)
    history = page[page.index('class="panel panel-default crm-history"'):]
    # in words (app/audit/sentences.py): who did what, the psql change by "the system"
    assert "Admin User created this " in history and " to Changed in psql" in history
    assert "The system changed " in history and "update " not in history
    link = re.search(r'href="(/logs/list/\?[^"]+)"', history).group(1).replace("&amp;", "&")
    # "equal to" filters on table and record (positions looked up from the converter)
    assert re.fullmatch(rf"/logs/list/\?_flt_\d_table_name={screen.table}&_flt_\d_record_key={pk}", link)
    assert f"insert {screen.table}" in admin.get(link).get_data(as_text=True)
    other = sql(f"SELECT count(*) FROM logs WHERE table_name = '{screen.table}' AND record_key <> :k", k=str(pk))
    if other[0][0]:
        assert history.count("<tr>") == 3  # header + this record's two entries, not the others'


def test_user_and_role_pages_show_their_history(admin, sql):
    admin_id = _admin_id(sql)
    login(admin.application.test_client(), "admin", "Bad-guess-123")
    page = admin.get(f"/users/show/{admin_id}").get_data(as_text=True)
    history = page[page.index("crm-history"):]
    assert "Sign-in failed" in history and "wrong password" in history
    (role_id,), = sql("SELECT role_id FROM roles WHERE role_name = 'Admin'")
    page = admin.get(f"/roles/show/{role_id}").get_data(as_text=True)
    assert "Permissions changed" in page[page.index("crm-history"):]
