"""Parts of a page kept between requests (menu, filter form) and the search-filtered list path.

The menu and the filter form are rendered once and reused; these tests prove a
reused part never shows what the current request should not: another role's
menu, a menu from before a permission change, another language, stale filters.
"""
from __future__ import annotations

import re

from tests.support.client import login
from tests.support.users import ROLE_PASSWORD, make_role_user

MENU_RE = re.compile(r'<ul class="nav navbar-nav">(.*?)</ul>\s*(?:<form|<ul class="nav navbar-nav navbar-right")', re.S)


def menu(client, url: str = "/") -> str:
    page = client.get(url).get_data(as_text=True)
    found = MENU_RE.search(page)
    assert found, "no menu on the page"
    return found.group(1)


def test_the_menu_follows_a_permission_change_at_once(app, client, admin, sql):

    rep = make_role_user(app, "Sales Rep")
    rep_client = app.test_client()
    login(rep_client, rep, ROLE_PASSWORD)
    assert "/customers/list/" in menu(rep_client) and "/users/list/" not in menu(rep_client)
    assert "/users/list/" in menu(admin)  # admin's menu is not the rep's, though both were just rendered

    # an admin takes the Customers menu entry away from the role
    sql("DELETE FROM role_permissions WHERE role_id = (SELECT role_id FROM roles WHERE role_name = 'Sales Rep') "
        "AND permission_id IN (SELECT p.permission_id FROM permissions p JOIN actions a ON a.id = p.action_id "
        "JOIN resources r ON r.id = p.resource_id WHERE a.name = 'menu_access' AND r.name = 'Customers')")
    assert "/customers/list/" not in menu(rep_client)
    assert "/contacts/list/" in menu(rep_client)
    assert "/customers/list/" in menu(admin)


def test_the_menu_is_in_the_users_language(admin):
    english = menu(admin)
    admin.get("/lang/zh", headers={"Referer": "/"})
    chinese = menu(admin)
    assert "Customers" in english and "客户" in chinese and "Customers" not in chinese
    admin.get("/lang/en", headers={"Referer": "/"})
    assert menu(admin) == english


FILTERS_RE = re.compile(r"new AdminFilters\((.*?)\);", re.S)


def filter_script(client, url: str) -> str:
    return FILTERS_RE.search(client.get(url).get_data(as_text=True)).group(1)


def test_the_filter_form_shows_the_filters_of_this_request_only(admin):
    plain = filter_script(admin, "/customers/list/")
    filtered = filter_script(admin, "/customers/list/?_flt_0_name=Zebra%20Holdings")
    assert "Zebra Holdings" in filtered and "Zebra Holdings" not in plain
    assert filter_script(admin, "/customers/list/") == plain  # the filter did not stick
    other = filter_script(admin, "/customers/list/?_flt_0_name=Acme%20%3C%2Fscript%3E")  # the kept form, refilled
    assert "Acme" in other and "Zebra" not in other and "</script>" not in other
    assert other.replace("Acme \\u003c/script\\u003e", "Zebra Holdings") == filtered
    assert filter_script(admin, "/contacts/list/") != plain  # each screen its own form


def test_a_rare_term_lists_through_the_search_index_and_a_frequent_one_by_key(app, admin, sql):
    """A list filtered by a search term finds its matches through the index first (a rare term
    is never looked for by walking the table newest first), then shows them in the list's order."""
    from sqlalchemy import event

    from app.extensions import db

    sql("INSERT INTO customers (name) SELECT 'Bulk ' || g FROM generate_series(1, 1050) g")
    rare = [sql("INSERT INTO customers (name) VALUES (:n) RETURNING customer_id", n=n)[0][0]
            for n in ("王府井百货", "Wang 王 Holdings", "东方王朝")]
    sql("ANALYZE customers")
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    listener = lambda _c, _cur, statement, *_a: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        page = admin.get("/customers/list/?_flt_0_name=王").get_data(as_text=True)
        frequent = admin.get("/customers/list/?_flt_0_name=Bulk").get_data(as_text=True)
        key_order = list(statements)
        by_name = admin.get("/customers/list/?_flt_0_name=王&_oc_CustomerView=name&_od_CustomerView=asc")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    expected = [k for (k,) in sql("SELECT customer_id FROM customers WHERE name LIKE '%王%' ORDER BY 1 DESC")]
    assert set(rare) <= set(expected) and len(expected) < 25
    # each row links its record twice (the show button, the name)
    shown = list(dict.fromkeys(int(k) for k in re.findall(r'href="/customers/show/(\d+)"', page)))
    assert shown == expected  # newest first, exactly the matches
    assert re.search(rf"Record Count:</strong>\s*{len(expected)}\s", page)
    # in key order (the default) the page's own keys are cut from the matches: only its rows are read
    assert any("customers.customer_id IN (%(" in s for s in key_order), "the page was not read by its keys"
    assert not any("IN (SELECT unnest(" in s for s in key_order)
    # in another order the database sorts the matches, read by their keys
    assert any("IN (SELECT unnest(" in s and "ORDER BY customers.name" in s for s in statements[len(key_order):])
    names = [m for m in re.findall(r'href="/customers/show/\d+">([^<]+)<', by_name.get_data(as_text=True))]
    assert names == sorted(set(names)) and len(names) == len(expected)
    assert "1,000+" in frequent and "Bulk 1050" in frequent  # more than the cap: the newest, by key order
    bulk = [k for (k,) in sql("SELECT customer_id FROM customers WHERE name LIKE 'Bulk %' ORDER BY 1 DESC")]
    second = admin.get("/customers/list/?_flt_0_name=Bulk&page_CustomerView=1").get_data(as_text=True)
    size = len(set(re.findall(r'href="/customers/show/(\d+)"', frequent)))
    assert list(dict.fromkeys(int(k) for k in re.findall(r'href="/customers/show/(\d+)"', second))) == \
        bulk[size:2 * size]  # the next keys of the matches
