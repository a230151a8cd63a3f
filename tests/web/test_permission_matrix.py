"""The permission matrix screen, role cloning, effective permissions, and the default-role sync."""
from __future__ import annotations

import re

from tests.support.apps import make_app
from tests.support.client import csrf_token
from tests.support.permissions import grants


def role_id(sql, name: str) -> int:
    return sql("SELECT role_id FROM roles WHERE role_name = :n", n=name)[0][0]


def form_of(admin, rid: int) -> dict[str, list[str]]:
    """The role form as a browser would submit it: hidden cells and the ticked boxes."""
    page = admin.get(f"/permission-matrix/role/{rid}").get_data(as_text=True)
    form = page[page.index('id="role-permissions"'):page.index("</form>", page.index('id="role-permissions"'))]
    data: dict[str, list[str]] = {"csrf_token": [csrf_token(admin, f"/permission-matrix/role/{rid}")]}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or name.group(1) == "csrf_token":
            continue
        if 'type="checkbox"' in tag and "checked" not in tag:
            continue
        data.setdefault(name.group(1), []).append(value.group(1) if value else "")
    return data


def save(admin, rid: int, data: dict[str, list[str]], tick=(), untick=()):
    ticked = [k for k in data.get("grant", []) if k not in untick] + list(tick)
    return admin.post(f"/permission-matrix/role/{rid}", data={**data, "grant": ticked})


def test_matrix_lists_roles_against_subjects_in_plain_words(admin):
    page = admin.get("/permission-matrix/").get_data(as_text=True)
    assert 'data-role="Sales Manager" data-subject="customers">\n      read, create, edit, delete, export' in page
    assert 'data-role="Support Agent" data-subject="activities">\n      create' in page
    assert 'data-role="Sales Rep" data-subject="logs">\n      —' in page
    for label in ("Customers", "Service tickets", "Reports", "Logs (audit)", "Users", "Roles",
                  "Own account (profile, own password)"):
        assert f"<th>{label}</th>" in page
    table = page[page.index("<table"):page.index("</table>")]
    assert "can_" not in table and "View" not in table  # no FAB method or class names


def test_role_page_saves_ticks_in_one_go(admin, sql):
    rid = role_id(sql, "Sales Rep")
    data = form_of(admin, rid)
    assert "customers:edit" in data["grant"] and "customers:delete" not in data["grant"]
    response = save(admin, rid, data, tick=["customers:delete"], untick=["customers:edit"])
    assert response.status_code == 302
    now = grants(sql, "Sales Rep")
    assert {"can_delete on CustomerView", "can_delete on CustomerApi"} <= now
    assert not {"can_edit on CustomerView", "can_put on CustomerApi"} & now
    assert "can_edit on ContactView" in now  # untouched cells stay
    assert "Role Sales Rep saved: 2 permission(s) granted, 2 revoked." in \
        admin.get(response.headers["Location"]).get_data(as_text=True)


def test_menu_category_follows_its_entries(admin, sql):
    rid = role_id(sql, "Support Agent")
    assert "menu_access on Service" in grants(sql, "Support Agent")
    data = form_of(admin, rid)
    save(admin, rid, data, untick=[k for k in data["grant"] if k.startswith("service_tickets:")])
    assert not {"menu_access on Service", "menu_access on Service tickets"} & grants(sql, "Support Agent")


def test_saving_is_one_transaction(admin, sql, owner_sql):
    """If the database refuses one grant, the revocations of the same save are undone too."""
    rid = role_id(sql, "Sales Rep")
    before = grants(sql, "Sales Rep")
    owner_sql("""CREATE FUNCTION refuse_grant() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION 'refused for the test'; END $$""")
    owner_sql("CREATE TRIGGER refuse_grant BEFORE INSERT ON role_permissions FOR EACH ROW EXECUTE FUNCTION refuse_grant()")
    response = save(admin, rid, form_of(admin, rid), tick=["customers:delete"], untick=["leads:read"])
    assert response.status_code == 302
    assert "nothing was saved" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert grants(sql, "Sales Rep") == before


def test_partly_granted_cell_is_kept_as_it_is(admin, sql):
    rid = role_id(sql, "Sales Rep")
    sql("DELETE FROM role_permissions WHERE role_id = :r AND permission_id = "
        "(SELECT permission_id FROM permissions WHERE permission_name = 'can_put on CustomerApi')", r=rid)
    before = grants(sql, "Sales Rep")
    assert "(partly)" in admin.get(f"/permission-matrix/role/{rid}").get_data(as_text=True)
    save(admin, rid, form_of(admin, rid), tick=["leads:delete"])
    assert grants(sql, "Sales Rep") - before == {"can_delete on LeadView", "can_delete on LeadApi"}


def test_admin_role_cannot_be_changed_here(admin, sql):
    rid = role_id(sql, "Admin")
    before = grants(sql, "Admin")
    page = admin.get(f"/permission-matrix/role/{rid}").get_data(as_text=True)
    assert "cannot be changed" in page and "Save permissions" not in page
    admin.post(f"/permission-matrix/role/{rid}", data={"cell": "customers:read", "was:customers:read": "all",
                                                       "csrf_token": csrf_token(admin, "/")})
    assert grants(sql, "Admin") == before


def test_clone_role(admin, sql):
    rid = role_id(sql, "Support Agent")
    token = csrf_token(admin, f"/permission-matrix/role/{rid}")
    response = admin.post(f"/permission-matrix/role/{rid}/clone", data={"name": "Support Lead", "csrf_token": token})
    assert response.status_code == 302
    assert grants(sql, "Support Lead") == grants(sql, "Support Agent")
    for name, message in (("support lead", "exists already"), ("  ", "Give the new role a name"),
                          ("x" * 300, "at most 255")):
        response = admin.post(f"/permission-matrix/role/{rid}/clone", data={"name": name, "csrf_token": token},
                              follow_redirects=True)
        assert message in response.get_data(as_text=True)
    assert sql("SELECT count(*) FROM roles WHERE role_name ILIKE 'support lead%' OR length(role_name) > 255") == [(1,)]


def test_effective_permissions_of_a_user(app, admin, sql):
    with app.app_context():
        from app.extensions import db

        sm = app.appbuilder.sm
        sm.add_user("agent", "Ann", "Agent", "agent@example.com", sm.find_role("Support Agent"),
                    password="Agent-password-2026")
        db.session.remove()
    page = admin.get("/permission-matrix/user/?username=agent").get_data(as_text=True)
    table = page[page.index('id="effective-permissions"'):]
    assert "<th>Service tickets</th><td>read, create, edit, delete, export</td>" in table
    assert "<th>Customers</th><td>read</td>" in table
    assert "<th>Activities</th><td>create</td>" in table
    assert "Leads" not in table
    assert "No user named" in admin.get("/permission-matrix/user/?username=ghost",
                                        follow_redirects=True).get_data(as_text=True)


def _restart(pg, database):
    """A new app on the same database, and the start-up sync `crm serve` runs."""
    from app.ops.bootstrap import sync_security
    from app.extensions import db

    app = make_app(pg, database)
    with app.app_context():
        sync_security(app)
        db.session.remove()
        db.engine.dispose()


def test_admins_edit_to_a_default_role_survives_a_restart(pg, database, admin, sql):
    rid = role_id(sql, "Sales Rep")
    save(admin, rid, form_of(admin, rid), untick=["customers:create"])
    sql("DELETE FROM roles WHERE role_name = 'Auditor'")
    edited = grants(sql, "Sales Rep")
    assert "can_add on CustomerView" not in edited
    _restart(pg, database)
    assert grants(sql, "Sales Rep") == edited
    assert sql("SELECT count(*) FROM roles WHERE role_name = 'Auditor'") == [(0,)]


def test_new_screens_reach_default_roles_without_undoing_edits(pg, database, admin, sql):
    rid = role_id(sql, "Support Agent")
    save(admin, rid, form_of(admin, rid), untick=["customers:read"])
    # pretend the tickets screen, API and menu entry are new in this release
    sql("DELETE FROM resources WHERE name IN ('TicketView', 'TicketApi', 'Service tickets')")
    sql("DELETE FROM security_synced_resources WHERE name IN ('TicketView', 'TicketApi', 'Service tickets')")
    assert not any("Ticket" in g for g in grants(sql, "Support Agent"))
    _restart(pg, database)
    now = grants(sql, "Support Agent")
    assert {"can_list on TicketView", "can_delete on TicketApi", "menu_access on Service tickets"} <= now
    assert "can_list on CustomerView" not in now  # the admin's revocation stands
    assert "can_list on TicketView" in grants(sql, "Sales Manager")
    assert "can_add on TicketView" not in grants(sql, "Sales Manager")
    assert sql("SELECT count(*) FROM default_role_grants WHERE role_name = 'Support Agent' "
               "AND permission_name = 'can_add on TicketView'") == [(1,)]
