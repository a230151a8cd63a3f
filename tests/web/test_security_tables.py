"""FAB's security manager reads and writes the seed's users/roles/permissions tables."""
from __future__ import annotations

from werkzeug.security import check_password_hash

from tests.support.apps import ADMIN_PASSWORD
from tests.support.client import csrf_token, login


def test_admin_exists_with_fab_hash_in_users_table(sql):
    (username, hashed, role), = sql(
        "SELECT u.username, u.password_hash, r.role_name FROM users u JOIN roles r USING (role_id)")
    assert (username, role) == ("admin", "Admin")
    assert hashed.startswith("scrypt:") and check_password_hash(hashed, ADMIN_PASSWORD)


def test_permission_rows_are_one_action_on_one_resource(sql):
    rows = sql("SELECT permission_name FROM permissions p JOIN role_permissions rp USING (permission_id) "
               "JOIN roles r USING (role_id) WHERE r.role_name = 'Admin'")
    names = {r[0] for r in rows}
    assert {"can_edit on CustomerView", "can_list on TicketView", "can_post on CustomerApi",
            "menu_access on Customers"} <= names


def test_login_success_and_failure_are_counted_in_users(client, sql):
    bad = login(client, "admin", "wrong password")
    assert bad.status_code == 302 and "/login" in bad.headers["Location"]
    assert sql("SELECT fail_login_count FROM users WHERE username = 'admin'")[0][0] == 1
    assert login(client).status_code == 302
    (count, last), = sql("SELECT login_count, last_login FROM users WHERE username = 'admin'")
    assert count == 1 and last is not None


def test_anonymous_is_sent_to_login(client):
    response = client.get("/customers/list/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_permission_check_reads_role_permissions(app, client, sql):
    """A role with only can_list on customers sees the list and nothing else."""
    sql("INSERT INTO roles (role_name) VALUES ('Viewer')")
    sql("INSERT INTO role_permissions (role_id, permission_id) "
        "SELECT r.role_id, p.permission_id FROM roles r, permissions p "
        "WHERE r.role_name = 'Viewer' AND p.permission_name IN "
        "('can_list on CustomerView', 'menu_access on Customers', 'menu_access on Sales')")
    with app.app_context():
        from app.extensions import db

        user = app.appbuilder.sm.add_user("viewer", "View", "Er", "viewer@example.com",
                                          app.appbuilder.sm.find_role("Viewer"), password="Viewer-pass-1234")
        assert user
        db.session.remove()
    assert sql("SELECT r.role_name FROM users u JOIN roles r USING (role_id) WHERE username = 'viewer'") == [("Viewer",)]
    login(client, "viewer", "Viewer-pass-1234")
    assert client.get("/customers/list/").status_code == 200
    assert client.get("/customers/add").status_code == 403
    assert client.get("/contacts/list/").status_code == 403
    assert client.get("/users/list/").status_code == 403
    token = csrf_token(client, "/customers/list/")
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Keep me') RETURNING customer_id")
    assert client.post(f"/customers/delete/{cid}", data={"csrf_token": token}).status_code == 403
    assert sql("SELECT count(*) FROM customers WHERE customer_id = :c", c=cid)[0][0] == 1

    # revoking in the table takes effect on the next request
    sql("DELETE FROM role_permissions WHERE permission_id = "
        "(SELECT permission_id FROM permissions WHERE permission_name = 'can_list on CustomerView')")
    assert client.get("/customers/list/").status_code == 403


def test_admin_creates_user_through_users_screen(admin, sql):
    from tests.support.htmlforms import form_fields

    (role_id,), = sql("SELECT role_id FROM roles WHERE role_name = 'Admin'")
    data = form_fields(admin.get("/users/add").get_data(as_text=True))
    data.update({"username": "newbie", "first_name": "New", "last_name": "Bie", "email": "newbie@example.com",
                 "role": str(role_id), "active": "y", "password": "Str0ng-passw0rd!", "conf_password": "Str0ng-passw0rd!"})
    response = admin.post("/users/add", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    (hashed, rid), = sql("SELECT password_hash, role_id FROM users WHERE username = 'newbie'")
    assert rid == role_id and check_password_hash(hashed, "Str0ng-passw0rd!")


def test_roles_and_permissions_screens_list_seed_tables(admin):
    assert "Admin" in admin.get("/roles/list/").get_data(as_text=True)
    assert "can_edit on CustomerView" in admin.get("/permissions/list/?_flt_0_permission_name=can_edit").get_data(as_text=True)


def test_logout_ends_session(admin):
    admin.get("/logout/")
    response = admin.get("/customers/list/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_permission_checks_cost_one_query_per_request(app, admin):
    """FAB checks a permission per menu entry and button; they are answered from one query."""
    from tests.support.apps import captured_statements

    with captured_statements(app) as statements:
        assert admin.get("/customers/list/").status_code == 200
    permission_queries = [s for s in statements if "role_permissions" in s]
    assert 1 <= len(permission_queries) <= 2, permission_queries  # the check, and the menu's own query


def test_role_names_are_unique_in_any_case(admin, sql):
    import pytest
    from sqlalchemy.exc import IntegrityError

    from tests.support.htmlforms import form_fields

    before = sql("SELECT count(*) FROM roles")
    data = {**form_fields(admin.get("/roles/add").get_data(as_text=True)), "role_name": "sales REP"}
    refused = admin.post("/roles/add", data=data)
    assert refused.status_code == 200 and "A role with this name exists already" in \
        refused.get_data(as_text=True)
    assert sql("SELECT count(*) FROM roles") == before
    assert admin.post("/roles/add", data={**data, "role_name": "Viewer"}).status_code == 302
    (rid,), = sql("SELECT role_id FROM roles WHERE role_name = 'Viewer'")
    edit = form_fields(admin.get(f"/roles/edit/{rid}").get_data(as_text=True))
    refused = admin.post(f"/roles/edit/{rid}", data={**edit, "role_name": "ADMIN"})
    assert refused.status_code == 200 and "A role with this name exists already" in refused.get_data(as_text=True)
    # a role may change the case of its own name
    assert admin.post(f"/roles/edit/{rid}", data={**edit, "role_name": "VIEWER"}).status_code == 302
    assert sql("SELECT role_name FROM roles WHERE role_id = :r", r=rid) == [("VIEWER",)]
    # the database refuses what the form would, for plain SQL too
    with pytest.raises(IntegrityError, match="uq_roles_role_name_lower"):
        sql("INSERT INTO roles (role_name) VALUES ('viewer')")
