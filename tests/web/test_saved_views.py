"""Column chooser and saved views: CRUD, sharing with a role, the default view, unknown columns."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask_appbuilder.models.sqla.filters import FilterEqual

from tests.support.client import csrf_token, login
from tests.support.users import ROLE_PASSWORD, add_user, make_role_user


def _flt(app, route: str, column: str) -> str:
    from app.lists.links import filter_index

    with app.app_context():
        return f"_flt_{filter_index(route, column, FilterEqual)}_{column}"


def _save(client, name: str, args: str, cols: str = "", role_id: str = "", default: bool = False):
    data = {"csrf_token": csrf_token(client, "/customers/list/?view=all"), "name": name, "args": args, "cols": cols,
            "role_id": role_id}
    if default:
        data["is_default"] = "1"
    return client.post("/customers/views/save", data=data)


def _header(page: str) -> str:
    return page.split("<thead>", 1)[1].split("</thead>", 1)[0]


def test_columns_are_chosen_and_ordered_and_sorting_still_works(admin, sql):
    sql("INSERT INTO customers (name, industry, location) SELECT 'C' || g, 'I' || (g % 3), 'L' || g "
        "FROM generate_series(1, 60) g")
    page = admin.get("/customers/list/?cols=location,name&_oc_CustomerView=name&_od_CustomerView=asc")
    assert page.status_code == 200
    header = _header(page.get_data(as_text=True))
    assert header.index("Location") < header.index("Name") and "Industry" not in header
    body = page.get_data(as_text=True)
    assert body.index(">C1<") < body.index(">C10<")  # name ascending
    following = body.split('rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "cols=location" in following  # the keyset pager keeps the choice
    nxt = admin.get(following)
    assert nxt.status_code == 200 and "Industry" not in _header(nxt.get_data(as_text=True))


def test_unknown_or_duplicate_columns_are_a_400(admin):
    assert admin.get("/customers/list/?cols=name,password").status_code == 400
    assert admin.get("/customers/list/?cols=name,name").status_code == 400
    assert admin.get("/customers/list/?cols=version").status_code == 400


def test_encrypted_columns_only_for_roles_that_may_read_records(app, client, sql):
    from app.extensions import db
    from app.models import Permission, Role

    with app.app_context():
        list_only = Role(role_name="Lister")
        db.session.add(list_only)
        list_only.permissions = [p for p in db.session.scalars(db.select(Permission))
                                 if p.view_menu.name == "CustomerView" and p.permission.name == "can_list"]
        db.session.commit()
    add_user(app, "lister", "List", "Only", "Lister", ROLE_PASSWORD)
    login(client, "lister", ROLE_PASSWORD)
    assert client.get("/customers/list/?cols=name,revenue").status_code == 400
    assert client.get("/customers/list/?cols=name,industry").status_code == 200


def test_save_apply_rename_default_and_delete(app, admin, sql):
    sql("INSERT INTO customers (name, industry) VALUES ('Shop', 'Retail'), ('Power', 'Energy')")
    flt = _flt(app, "/customers", "industry")
    response = _save(admin, "Retail first", f"{flt}=Retail&_oc_CustomerView=name&_od_CustomerView=asc&page_CustomerView=3",
                     cols="name,industry")
    assert response.status_code == 302
    (view_id, args, columns, role_id, default), = sql(
        "SELECT saved_view_id, args, columns, role_id, is_default FROM saved_views")
    assert args == {flt: ["Retail"], "_oc_CustomerView": ["name"], "_od_CustomerView": ["asc"]}  # no position
    assert columns == ["name", "industry"] and role_id is None and default is False
    target = response.headers["Location"]
    assert parse_qs(urlsplit(target).query)["sv"] == [str(view_id)]
    page = admin.get(target).get_data(as_text=True)
    assert "Shop" in page and "Power" not in page and "Retail first" in page

    token = csrf_token(admin, "/customers/list/?view=all")
    assert admin.post(f"/customers/views/{view_id}/rename", data={"csrf_token": token, "name": "Shops"}).status_code == 302
    assert admin.post(f"/customers/views/{view_id}/default", data={"csrf_token": token, "on": "1"}).status_code == 302
    assert sql("SELECT name, is_default FROM saved_views") == [("Shops", True)]
    opened = admin.get("/customers/list/")  # no argument: the default view
    assert opened.status_code == 302 and f"sv={view_id}" in opened.headers["Location"]
    everything = admin.get("/customers/list/?view=all")
    assert everything.status_code == 200 and "Power" in everything.get_data(as_text=True)

    # a second default replaces the first
    _save(admin, "Energy", f"{flt}=Energy", default=True)
    assert sql("SELECT name FROM saved_views WHERE is_default") == [("Energy",)]
    assert admin.post(f"/customers/views/{view_id}/delete", data={"csrf_token": token}).status_code == 302
    assert sql("SELECT name FROM saved_views") == [("Energy",)]


def test_a_view_that_would_not_open_is_not_saved(admin, sql):
    assert _save(admin, "Bad", "_oc_CustomerView=password&_od_CustomerView=asc").status_code == 400
    assert _save(admin, "", "").status_code == 400
    assert _save(admin, "Cols", "", cols="nope").status_code == 400
    assert sql("SELECT count(*) FROM saved_views")[0][0] == 0


def test_shared_views_are_readable_by_the_role_and_editable_by_the_owner(app, client, sql):
    rep = make_role_user(app, "Sales Rep")
    add_user(app, "rep2", "Rep", "Two", "Sales Rep", ROLE_PASSWORD)
    make_role_user(app, "Auditor")
    (role_id,), = sql("SELECT role_id FROM roles WHERE role_name = 'Sales Rep'")
    login(client, rep, ROLE_PASSWORD)
    assert _save(client, "Team view", "", role_id=str(role_id)).status_code == 302
    assert _save(client, "Mine", "").status_code == 302
    (shared_id,), = sql("SELECT saved_view_id FROM saved_views WHERE name = 'Team view'")
    (other_role,), = sql("SELECT role_id FROM roles WHERE role_name = 'Auditor'")
    assert _save(client, "Elsewhere", "", role_id=str(other_role)).status_code == 403  # not the rep's role
    client.get("/logout/")

    login(client, "rep2", ROLE_PASSWORD)
    menu = client.get("/customers/list/").get_data(as_text=True)
    assert "Team view" in menu and "Mine" not in menu
    token = csrf_token(client, "/customers/list/?view=all")
    assert client.post(f"/customers/views/{shared_id}/rename", data={"csrf_token": token, "name": "X"}).status_code == 403
    assert client.post(f"/customers/views/{shared_id}/delete", data={"csrf_token": token}).status_code == 403
    client.get("/logout/")

    login(client, "auditor", ROLE_PASSWORD)
    assert "Team view" not in client.get("/customers/list/").get_data(as_text=True)
    token = csrf_token(client, "/customers/list/?view=all")
    assert client.post(f"/customers/views/{shared_id}/delete", data={"csrf_token": token}).status_code == 404
    assert sql("SELECT name FROM saved_views ORDER BY 1") == [("Mine",), ("Team view",)]


def test_share_roles_are_read_when_the_save_form_opens_not_on_the_list(app, admin, sql):
    from tests.support.apps import captured_statements

    with captured_statements(app) as statements:
        page = admin.get("/customers/list/").get_data(as_text=True)
    role_reads = [s for s in statements if "FROM roles" in s and "role_permissions" not in s]
    assert role_reads == [], role_reads  # the "share with" roles are not read for the list
    assert 'data-roles-url="/customers/views/roles"' in page and "Role: Sales Rep" not in page
    names = [name for _id, name in admin.get("/customers/views/roles").get_json()["roles"]]
    assert "Role: Sales Rep" in names and "Role: Admin" in names  # an admin: any role
    make_role_user(app, "Sales Rep")
    rep = app.test_client()
    login(rep, "sales_rep", ROLE_PASSWORD)
    assert [name for _id, name in rep.get("/customers/views/roles").get_json()["roles"]] == ["Role: Sales Rep"]
