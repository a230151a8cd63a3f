"""The /fields/ screen: admins add, remove, restore and purge fields; bad input is a form error; others get 403."""
from __future__ import annotations

import pytest

from tests.support.client import csrf_token, login, switch_language
from tests.support.fields import fapp, owner  # noqa: F401  (module-scoped fixtures)
from tests.support.users import ROLE_PASSWORD, make_role_user

DB = "crm_fields_screen"
FORM = {"table_name": "customers", "column_name": "", "field_type": "text", "link_table": "customers",
        "label_en": "", "label_zh": "", "choices": ""}


@pytest.fixture(scope="module")
def admin(fapp):
    client = fapp.test_client()
    login(client)
    return client


def add(admin, **fields):
    return admin.post("/fields/add", data={**FORM, **fields, "csrf_token": csrf_token(admin, "/fields/")})


def post(admin, path):
    return admin.post(path, data={"csrf_token": csrf_token(admin, "/fields/")})


def test_add_on_the_screen_makes_the_column_and_lists_it(admin, owner):
    response = add(admin, table_name="opportunities", column_name="tier", field_type="choice",
                   label_en="Tier", label_zh="等级", choices="gold=Gold=金牌\nsilver=Silver=银牌", required="1")
    assert response.status_code == 302
    assert owner("SELECT field_type, label_zh, required, choices->1->>'label_zh' FROM custom_fields "
                 "WHERE table_name = 'opportunities' AND column_name = 'tier'") == [("choice", "等级", True, "银牌")]
    grown = admin.post("/fields/opportunities/tier/choices", data={
        "choices": "gold=Gold=金牌\nsilver=Silver, polished=银牌\nbronze", "csrf_token": csrf_token(admin, "/fields/")})
    assert grown.status_code == 302
    assert owner("SELECT jsonb_path_query_array(choices, '$[*].label_en') FROM custom_fields "
                 "WHERE column_name = 'tier'") == [(["Gold", "Silver, polished", "bronze"],)]
    assert add(admin, table_name="leads", column_name="referrer", field_type="link",
               link_table="contacts").status_code == 302
    assert add(admin, column_name="budget_secret", field_type="amount", financial="1").status_code == 302
    assert owner("SELECT field_type, financial FROM custom_fields WHERE column_name IN ('referrer', 'budget_secret') "
                 "ORDER BY field_id") == [("link:contacts", False), ("amount", True)]
    assert owner("SELECT count(*) FROM logs WHERE action = 'field add' AND description LIKE '%\"tier\"%' "
                 "AND user_id = (SELECT user_id FROM users WHERE username = 'admin')") == [(1,)]  # who did it
    page = admin.get("/fields/").get_data(as_text=True)
    assert 'data-field="opportunities.tier" data-state="active"' in page and "Field budget_secret added" in page
    switch_language(admin, "zh")
    try:
        page = admin.get("/fields/").get_data(as_text=True)
        assert "自定义字段" in page and "银牌" in page and "链接到" in page
    finally:
        switch_language(admin, "en")


@pytest.mark.parametrize("fields, message", [
    ({"column_name": "select"}, "SQL keyword"),
    ({"column_name": "name"}, "already has a column"),
    ({"column_name": "Bad Name"}, "lower case letters"),
    ({"column_name": "colour", "field_type": "choice"}, "needs its values"),
    ({"column_name": "colour", "field_type": "date", "financial": "1"}, "Only an amount"),
    ({"column_name": "colour", "label_en": "x" * 101}, "at most 100"),
])
def test_bad_input_is_a_form_error_that_keeps_the_form(admin, owner, fields, message):
    before = owner("SELECT count(*), (SELECT version FROM crm_schema_version) FROM custom_fields")
    response = add(admin, **fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="field-error"' in page and message in page
    assert f'value="{fields["column_name"]}"' in page  # what was typed is still there
    assert owner("SELECT count(*), (SELECT version FROM crm_schema_version) FROM custom_fields") == before


def test_values_the_form_never_offers_are_a_400(admin):
    assert add(admin, column_name="colour", field_type="json").status_code == 400
    assert add(admin, column_name="colour", field_type="link", link_table="users").status_code == 400
    assert post(admin, "/fields/users/password_hash/remove").status_code == 400


def test_remove_restore_purge_on_the_screen(admin, owner):
    assert add(admin, table_name="contacts", column_name="hobby").status_code == 302
    refused = post(admin, "/fields/contacts/hobby/purge")
    assert refused.status_code == 400 and "Remove hobby first" in refused.get_data(as_text=True)
    assert post(admin, "/fields/contacts/hobby/remove").status_code == 302
    assert 'data-field="contacts.hobby" data-state="hidden"' in admin.get("/fields/").get_data(as_text=True)
    assert post(admin, "/fields/contacts/hobby/restore").status_code == 302
    relabel = admin.post("/fields/contacts/hobby/labels", data={"label_en": "Hobby", "label_zh": "爱好",
                                                                "csrf_token": csrf_token(admin, "/fields/")})
    assert relabel.status_code == 302
    assert owner("SELECT label_zh, state FROM custom_fields WHERE column_name = 'hobby'") == [("爱好", "active")]
    assert post(admin, "/fields/contacts/hobby/remove").status_code == 302
    assert post(admin, "/fields/contacts/hobby/purge").status_code == 302
    assert owner("SELECT count(*) FROM information_schema.columns WHERE column_name = 'hobby'") == [(0,)]
    assert post(admin, "/fields/contacts/hobby/purge").status_code == 400  # gone: a message, not a 500


def test_a_used_field_says_by_what_in_both_languages_and_purges_only_when_forced(admin, owner):
    assert add(admin, table_name="contacts", column_name="shoe").status_code == 302
    owner("INSERT INTO saved_views (user_id, view_name, name, args, columns) SELECT user_id, 'ContactView', 'Shoes', "
          "'{}', '[\"first_name\", \"shoe\"]' FROM users WHERE username = 'admin'")
    removed = admin.post("/fields/contacts/shoe/remove", data={"csrf_token": csrf_token(admin, "/fields/")},
                         follow_redirects=True).get_data(as_text=True)
    assert "Still used by (they leave it out while it is removed): saved view “Shoes (admin)”" in removed
    switch_language(admin, "zh")
    try:
        refused = post(admin, "/fields/contacts/shoe/purge")
        assert refused.status_code == 400 and "正被以下内容使用：已保存视图 “Shoes (admin)”" in refused.get_data(as_text=True)
    finally:
        switch_language(admin, "en")
    forced = admin.post("/fields/contacts/shoe/purge", data={"force": "1", "csrf_token": csrf_token(admin, "/fields/")},
                        follow_redirects=True).get_data(as_text=True)
    assert "Taken out of: saved view “Shoes (admin)”" in forced
    assert owner("SELECT columns FROM saved_views WHERE name = 'Shoes'") == [(["first_name"],)]
    assert owner("SELECT count(*) FROM information_schema.columns WHERE column_name = 'shoe'") == [(0,)]


def test_screen_is_for_admins_only(fapp, admin, owner):
    assert "Custom fields" in admin.get("/permission-matrix/").get_data(as_text=True)  # a row of its own
    holders = owner("SELECT DISTINCT r.role_name FROM role_permissions rp JOIN roles r USING (role_id) "
                    "JOIN permissions p USING (permission_id) WHERE p.permission_name LIKE '% on FieldsView'")
    assert holders == [("Admin",)]
    for role in ("Auditor", "Sales Manager"):
        other = fapp.test_client()
        login(other, make_role_user(fapp, role), ROLE_PASSWORD)
        assert other.get("/fields/").status_code == 403, role
        token = csrf_token(other, "/")
        assert other.post("/fields/add", data={**FORM, "column_name": "sneaky", "csrf_token": token}).status_code == 403
        assert other.post("/fields/customers/name/remove", data={"csrf_token": token}).status_code == 403
