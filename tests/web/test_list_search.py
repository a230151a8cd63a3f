"""A list's search box (`?q=`), its filter chips, title links, and record pages' Edit / Delete (issue #19)."""
from __future__ import annotations

import html
import re

import pytest
from flask_appbuilder.models.sqla.filters import FilterRelationOneToManyEqual as REL_EQ

from app.lists.links import EQ, list_url
from tests.support.client import csrf_token, switch_language
from tests.support.users import USER_PASSWORD, add_user, make_role_user


def _rows(page: str) -> list[str]:
    return re.findall(r"<tr><td(.*?)</tr>", page, re.DOTALL)


def _chips(page: str) -> list[str]:
    """The page's filter chips as read ("Stage is Won ×")."""
    chips = re.findall(r'<span class="crm-chip" role="listitem">(.*?)</span>\s*(?=<span class="crm-chip"|'
                       r'<a class="crm-chips-clear"|</div>)', page, re.DOTALL)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in chips]


def _link(app, route: str, *conditions) -> str:
    with app.test_request_context():
        return list_url(route, *conditions)


def _customers(sql, *rows: tuple[str, str]) -> dict[str, int]:
    ids = {}
    for name, industry in rows:
        (ids[name],), = sql("INSERT INTO customers (name, industry) VALUES (:n, :i) RETURNING customer_id",
                            n=name, i=industry)
    return ids


def test_quick_search_finds_every_word_in_the_lists_text_columns(admin, sql):
    _customers(sql, ("Acme Logistics", "Retail"), ("Acme Foods", "Other"), ("Globex", "Logistics"),
               ("华为 深圳", "Technology"))
    page = admin.get("/customers/list/?q=acme").get_data(as_text=True)
    assert len(_rows(page)) == 2 and "Acme Logistics" in page and "Acme Foods" in page and "Globex" not in page
    # each word in some column: "acme" in the name, "retail" in the industry
    page = admin.get("/customers/list/?q=ACME%20retail").get_data(as_text=True)
    assert [r for r in _rows(page) if "Acme Logistics" in r] and len(_rows(page)) == 1
    assert len(_rows(admin.get("/customers/list/?q=logistics").get_data(as_text=True))) == 2
    assert len(_rows(admin.get("/customers/list/?q=LOGIST").get_data(as_text=True))) == 2  # part of a word
    assert len(_rows(admin.get("/customers/list/?q=华为").get_data(as_text=True))) == 1  # two CJK characters
    assert len(_rows(admin.get("/customers/list/?q=ac").get_data(as_text=True))) == 2  # start of a word
    assert len(_rows(admin.get("/customers/list/?q=nothing-like-it").get_data(as_text=True))) == 0
    # LIKE's wildcards are taken literally
    assert len(_rows(admin.get("/customers/list/?q=%25").get_data(as_text=True))) == 0


def test_quick_search_finds_an_industry_by_its_label_in_the_users_language(admin, sql):
    """An industry is a documented value: the search box finds it by its name and by its label (物流)."""
    _customers(sql, ("Globex", "Logistics"), ("Initech", "Retail"))
    switch_language(admin, "zh")
    page = admin.get("/customers/list/?q=物流").get_data(as_text=True)
    assert len(_rows(page)) == 1 and "Globex" in page
    page = admin.get("/customers/list/?q=retail").get_data(as_text=True)  # its stored name in any language
    assert len(_rows(page)) == 1 and "Initech" in page


def test_quick_search_combines_with_a_filter_and_the_sort(app, admin, sql):
    _customers(sql, ("Acme Logistics", "Retail"), ("Acme Foods", "Food"), ("Acme Retail Two", "Retail"),
               ("Other Retail", "Retail"))
    url = _link(app, "/customers", ("industry", EQ, "Retail")) + "&q=acme&_oc_CustomerView=name&_od_CustomerView=asc"
    page = admin.get(url).get_data(as_text=True)
    rows = _rows(page)
    assert len(rows) == 2
    assert "Acme Logistics" in rows[0] and "Acme Retail Two" in rows[1]
    # the filter form keeps the search (hidden field), the sort links keep it too
    assert 'name="q" class="form-control"' in page and 'value="acme"' in page


def test_quick_search_pages_by_keyset(admin, sql):
    for i in range(30):
        sql("INSERT INTO customers (name) VALUES (:n)", n=f"Paged acme {i:02}")
    sql("INSERT INTO customers (name) VALUES ('Unrelated')")
    page = admin.get("/customers/list/?q=acme").get_data(as_text=True)
    assert len(_rows(page)) == 25 and "Record Count" in page and ">30<" not in page
    nxt = html.unescape(re.search(r'rel="next" href="([^"]+)"', page).group(1))
    assert "q=acme" in nxt
    second = admin.get(nxt).get_data(as_text=True)
    assert len(_rows(second)) == 5 and "Unrelated" not in second


def test_quick_search_on_lists_without_search_indexes(admin, sql, app):
    page = admin.get("/logs/list/?q=insert").get_data(as_text=True)
    assert admin.get("/logs/list/?q=insert").status_code == 200
    assert "crm-list-search" in page
    assert admin.get("/reports/list/?q=pipeline").status_code == 200


def test_filters_show_as_chips_with_remove_links_and_clear_all(app, admin, sql):
    ids = _customers(sql, ("Acme Logistics", "Retail"))
    sql("INSERT INTO opportunities (customer_id, name, stage) VALUES (:c, 'Big deal', 'won')",
        c=ids["Acme Logistics"])
    url = _link(app, "/opportunities", ("stage", EQ, "won"), ("customer", REL_EQ, ids["Acme Logistics"])) + "&q=big"
    page = admin.get(url).get_data(as_text=True)
    text = _chips(page)
    assert "Stage is Won ×" in text
    assert "Customer is Acme Logistics ×" in text  # a related row by its name
    assert "Search big ×" in text
    removes = [html.unescape(h) for h in re.findall(r'class="crm-chip-remove" href="([^"]+)"', page)]
    assert len(removes) == 3
    assert all("q=big" in h for h in removes[:2]) and "q=" not in removes[2]
    assert "stage" not in removes[0] and "stage" in removes[1]
    clear = html.unescape(re.search(r'class="crm-chips-clear" href="([^"]+)"', page).group(1))
    assert clear == "/opportunities/list/"
    assert len(_rows(page)) == 1


def test_chips_in_chinese(app, admin, sql):
    switch_language(admin, "zh")
    page = admin.get(_link(app, "/opportunities", ("stage", EQ, "won"))).get_data(as_text=True)
    chip = re.search(r'<span class="crm-chip" role="listitem">(.*?)</a>', page, re.DOTALL).group(1)
    assert "赢单" in chip or "成交" in chip or "赢" in chip, chip
    assert "阶段" in chip


def test_title_column_links_to_the_record(admin, sql):
    ids = _customers(sql, ("Acme Logistics", "Retail"))
    (contact,), = sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'Ada', 'Lovelace') "
                      "RETURNING contact_id", c=ids["Acme Logistics"])
    page = admin.get("/customers/list/").get_data(as_text=True)
    assert f'<a class="crm-title-link" href="/customers/show/{ids["Acme Logistics"]}">Acme Logistics</a>' in page
    page = admin.get("/contacts/list/").get_data(as_text=True)
    assert f'<a class="crm-title-link" href="/contacts/show/{contact}">Ada</a>' in page
    sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
        "VALUES (:c, 'call', 'Kick-off call', now())", c=ids["Acme Logistics"])
    page = admin.get("/activities/list/").get_data(as_text=True)
    assert re.search(r'<a class="crm-title-link" href="/activities/show/\d+">Kick-off call</a>', page)


@pytest.mark.parametrize("url,table", [("/contacts", "contacts"), ("/activities", "activities"),
                                       ("/opportunities", "opportunities"), ("/customers", "customers")])
def test_record_pages_offer_edit_and_delete(admin, sql, url, table):
    ids = _customers(sql, ("Acme Logistics", "Retail"))
    c = ids["Acme Logistics"]
    pk = {"customers": c,
          "contacts": lambda: sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'A', 'B') "
                                  "RETURNING contact_id", c=c)[0][0],
          "activities": lambda: sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
                                    "VALUES (:c, 'call', 'S', now()) RETURNING activity_id", c=c)[0][0],
          "opportunities": lambda: sql("INSERT INTO opportunities (customer_id, name, stage) "
                                       "VALUES (:c, 'Deal', 'won') RETURNING opportunity_id", c=c)[0][0]}[table]
    pk = pk() if callable(pk) else pk
    page = admin.get(f"{url}/show/{pk}").get_data(as_text=True)
    assert f'action="{url}/delete/{pk}"' in page and "crm-record-delete" in page
    if table != "customers":
        assert f'href="{url}/edit/{pk}"' in page and "crm-record-edit" in page
    else:
        assert 'id="edit-customer"' in page
    if table == "customers":
        assert "Delete customer “Acme Logistics”?" in html.unescape(page)


def test_record_pages_offer_only_what_the_role_allows(app, client, sql):
    from tests.support.client import login
    from tests.support.users import ROLE_PASSWORD

    ids = _customers(sql, ("Acme Logistics", "Retail"))
    (contact,), = sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'A', 'B') "
                      "RETURNING contact_id", c=ids["Acme Logistics"])
    rep, auditor = make_role_user(app, "Sales Rep"), make_role_user(app, "Auditor")
    # the rep's own customer: a Sales Rep's data scope is their own records (and their contacts)
    sql("UPDATE customers SET owner_id = (SELECT user_id FROM users WHERE username = :u) WHERE customer_id = :c",
        u=rep, c=ids["Acme Logistics"])
    login(client, rep, ROLE_PASSWORD)  # Sales Rep: read, create, edit; no delete
    page = client.get(f"/contacts/show/{contact}").get_data(as_text=True)
    assert f'href="/contacts/edit/{contact}"' in page and "crm-record-edit" in page
    assert "crm-record-delete" not in page and "/contacts/delete/" not in page
    page = client.get(f"/customers/show/{ids['Acme Logistics']}").get_data(as_text=True)
    assert 'id="edit-customer"' in page and "crm-record-delete" not in page
    client.get("/logout/")
    login(client, auditor, ROLE_PASSWORD)  # Auditor: read and export only
    page = client.get(f"/contacts/show/{contact}").get_data(as_text=True)
    assert "crm-record-edit" not in page and "crm-record-delete" not in page and "crm-record-actions" not in page


def test_list_delete_confirmation_names_the_record(admin, sql):
    _customers(sql, ("Acme Logistics", "Retail"))
    page = html.unescape(admin.get("/customers/list/").get_data(as_text=True))
    assert 'data-confirm="Delete customer “Acme Logistics”?"' in page


def test_refused_delete_says_what_depends_on_it_as_an_error(admin, sql):
    ids = _customers(sql, ("Acme Ltd", "Retail"))
    c = ids["Acme Ltd"]
    for i in range(3):
        sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'A', :l)", c=c, l=str(i))
    for i in range(2):
        sql("INSERT INTO opportunities (customer_id, name, stage) VALUES (:c, :n, 'won')", c=c, n=f"D{i}")
    token = csrf_token(admin, f"/customers/show/{c}")
    response = admin.post(f"/customers/delete/{c}", data={"csrf_token": token}, follow_redirects=True)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert re.search(r'alert-danger[^>]*>.*?3 contacts and 2 opportunities still belong to Acme Ltd', page, re.DOTALL)
    assert sql("SELECT count(*) FROM customers WHERE customer_id = :c", c=c)[0][0] == 1
    switch_language(admin, "zh")
    token = csrf_token(admin, f"/customers/show/{c}")
    page = admin.post(f"/customers/delete/{c}", data={"csrf_token": token}, follow_redirects=True).get_data(
        as_text=True)
    assert "3 个联系人和 2 个销售机会仍属于 Acme Ltd" in page


def test_deleting_from_the_record_page(admin, sql):
    ids = _customers(sql, ("Lonely Ltd", "Retail"))
    c = ids["Lonely Ltd"]
    token = csrf_token(admin, f"/customers/show/{c}")
    response = admin.post(f"/customers/delete/{c}", data={"csrf_token": token},
                          headers={"Referer": f"http://localhost/customers/show/{c}"})
    assert response.status_code == 302 and response.headers["Location"] == "/customers/list/"
    assert sql("SELECT count(*) FROM customers WHERE customer_id = :c", c=c)[0][0] == 0
    # from a filtered list: back to that list
    (d,), = sql("INSERT INTO customers (name) VALUES ('Other') RETURNING customer_id")
    token = csrf_token(admin, "/customers/list/?q=other")
    response = admin.post(f"/customers/delete/{d}", data={"csrf_token": token},
                          headers={"Referer": "http://localhost/customers/list/?q=other"})
    assert response.headers["Location"] == "/customers/list/?q=other"


def test_export_keeps_the_lists_search(admin, sql):
    _customers(sql, ("Acme Logistics", "Retail"), ("Globex", "Energy"))
    body = admin.get("/customers/export/?q=acme").get_data(as_text=True)
    assert "Acme Logistics" in body and "Globex" not in body


def test_users_and_roles_lists_have_the_search_box_and_chips(app, admin, sql):
    add_user(app, "wangli", "Li", "Wang", "Sales Rep", USER_PASSWORD)
    add_user(app, "ann", "Ann", "Lee", "Sales Manager", USER_PASSWORD)
    page = admin.get("/users/list/").get_data(as_text=True)
    assert 'id="crm-list-search"' in page and 'placeholder="Search users"' in page
    found = admin.get("/users/list/?q=wang").get_data(as_text=True)  # a last name
    assert "wangli" in found and ">ann<" not in found and ">admin<" not in found
    assert _chips(found) == ["Search wang ×"]
    assert html.unescape(re.search(r'class="crm-chips-clear" href="([^"]+)"', found).group(1)) == "/users/list/"
    by_mail = admin.get("/users/list/?q=ann%40").get_data(as_text=True)  # part of an e-mail address
    assert ">ann<" in by_mail and "wangli" not in by_mail
    assert "wangli" not in admin.get("/users/list/?q=%25").get_data(as_text=True)  # wildcards taken literally
    # with one of FAB's filters: both chips, each removable
    both = admin.get("/users/list/?q=l&_flt_0_username=ann").get_data(as_text=True)
    assert ">ann<" in both and "wangli" not in both
    assert sorted(_chips(both)) == ["Search l ×", "User Name starts with ann ×"]
    roles = admin.get("/roles/list/?q=manager").get_data(as_text=True)
    assert 'placeholder="Search roles"' in roles and "Sales Manager" in roles and "Sales Rep" not in roles
    switch_language(admin, "zh")
    page = admin.get("/roles/list/?q=rep").get_data(as_text=True)
    assert 'placeholder="搜索角色"' in page and "Sales Rep" in page and "Sales Manager" not in page
    assert _chips(page) == ["搜索 rep ×"] and "全部清除" in page
    assert 'placeholder="搜索用户"' in admin.get("/users/list/").get_data(as_text=True)
def _listed(page: str) -> list[int]:
    return [int(k) for k in re.findall(r'class="crm-title-link" href="/customers/show/(\d+)', page)]


def _all_pages(admin, url: str) -> tuple[list[int], str]:
    """The keys of every page from `url` on, following *Next*; and the first page."""
    first = page = admin.get(url).get_data(as_text=True)
    keys = _listed(page)
    for _ in range(20):
        nxt = re.search(r'rel="next" href="([^"]+)"', page)
        if not nxt:
            break
        page = admin.get(html.unescape(nxt.group(1))).get_data(as_text=True)
        keys += _listed(page)
    return keys, first


def test_a_common_word_lists_a_capped_set_of_matches_and_pages_through_it(app, admin, sql):
    sql("INSERT INTO customers (name, industry) SELECT 'Capped acme ' || lpad(i::text, 4, '0'), "
        "CASE WHEN i % 4 = 0 THEN 'Retail' ELSE 'Food' END FROM generate_series(1, 1200) i")
    sql("INSERT INTO customers (name) VALUES ('Unrelated')")
    newest = sql("SELECT max(customer_id) FROM customers WHERE name LIKE 'Capped%'")[0][0]
    keys, page = _all_pages(admin, "/customers/list/?q=acme&psize_CustomerView=100")
    assert "Record Count:</strong> 1,000+" in page and "(1,000 of them listed: add a word or a filter" in page
    assert len(keys) == len(set(keys)) == 1000 and newest in keys  # the newest matches, each once
    names = dict(sql("SELECT customer_id, name FROM customers"))
    assert all(names[k].startswith("Capped acme") for k in keys)
    # sorted within the capped set, by keyset across pages
    by_name, _ = _all_pages(admin, "/customers/list/?q=acme&psize_CustomerView=100"
                                   "&_oc_CustomerView=name&_od_CustomerView=asc")
    assert sorted(by_name) == sorted(keys) and [names[k] for k in by_name] == sorted(names[k] for k in keys)
    # a filter narrows the matches before the cap: exact again
    retail, page = _all_pages(admin, _link(app, "/customers", ("industry", EQ, "Retail")) + "&q=acme")
    assert len(retail) == 300 and "Record Count:</strong> 300" in page and "of them listed" not in page
    switch_language(admin, "zh")
    page = admin.get("/customers/list/?q=acme").get_data(as_text=True)
    assert "1,000+" in page and "仅列出其中 1,000 条" in page


def test_a_repeated_search_reuses_its_compiled_statement(app, admin, sql):
    """A search's matches statement is compiled once and then taken from SQLAlchemy's cache, short queries too,
    and a cached statement runs with its own request's terms.

    The statement carries each short query's per-column form as an annotation; held as a tuple of
    clauses it made the cache key differ on every request, and the whole statement was compiled again.
    """
    from sqlalchemy import event

    from app.extensions import db
    ids = _customers(sql, ("Acme Logistics", "Retail"), ("Globex Foods", "Retail"), ("王晓明 贸易", "Retail"),
                     ("李华 科技", "Retail"))
    sql("INSERT INTO contacts (customer_id, first_name, last_name, position) VALUES (:c, 'Li', 'Wang', '经理'), "
        "(:c, 'Mary', 'Smith', '主管')", c=ids["Acme Logistics"])
    hits: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("WITH probe"):
            hits.append(context.cache_hit.name)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        # pairs of queries of one shape: the second is served from the first's compilation
        for first, second, found in (("/customers/list/?q=王晓", "/customers/list/?q=李华", "李华 科技"),
                                     ("/contacts/list/?q=li", "/contacts/list/?q=ma", "Mary"),
                                     ("/contacts/list/?q=经理", "/contacts/list/?q=主管", "Mary"),
                                     ("/customers/list/?q=acme", "/customers/list/?q=globex", "Globex Foods")):
            assert admin.get(first).status_code == 200
            hits.clear()
            page = admin.get(second).get_data(as_text=True)
            assert hits == ["CACHE_HIT"], (second, hits)
            assert len(_rows(page)) == 1 and found in _rows(page)[0], (second, _rows(page))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
