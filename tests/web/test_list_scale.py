"""Lists and show pages that stay cheap as tables grow: SQL per page, capped counts, keyset paging, AJAX filters."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import event

from tests.support.client import login

LISTS = ["/customers/list/", "/contacts/list/", "/leads/list/", "/opportunities/list/",
         "/activities/list/", "/tickets/list/", "/reports/list/", "/logs/list/"]
SHOWS = {"/customers/show/": "customers", "/contacts/show/": "contacts", "/leads/show/": "leads",
         "/opportunities/show/": "opportunities", "/activities/show/": "activities",
         "/tickets/show/": "service_tickets"}


def add_family(sql, n: int, tag: str) -> int:
    """n customers, each with its own contact, lead, opportunity, activity, ticket and report;
    plus one customer with n of each related row (its show page lists them). Returns that customer."""
    for i in range(n):
        (customer,), = sql("INSERT INTO customers (name, industry) VALUES (:n, 'Retail') RETURNING customer_id",
                           n=f"{tag} customer {i}")
        (contact,), = sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, :f, 'Li') "
                          "RETURNING contact_id", c=customer, f=f"{tag}{i}")
        sql("INSERT INTO leads (source, contact_id) VALUES ('Website', :c)", c=contact)
        sql("INSERT INTO opportunities (customer_id, name) VALUES (:c, :n)", c=customer, n=f"{tag} deal {i}")
        sql("INSERT INTO activities (customer_id, contact_id, type, subject) VALUES (:c, :k, 'call', :s)",
            c=customer, k=contact, s=f"{tag} call {i}")
        sql("INSERT INTO service_tickets (customer_id, subject) VALUES (:c, :s)", c=customer, s=f"{tag} ticket {i}")
        sql("INSERT INTO reports (report_type, data) VALUES ('pipeline', '{}')")
    (big,), = sql("INSERT INTO customers (name) VALUES (:n) RETURNING customer_id", n=f"{tag} big customer")
    for i in range(n):
        (contact,), = sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, :f, 'Wang') "
                          "RETURNING contact_id", c=big, f=f"{tag}big{i}")
        sql("INSERT INTO leads (source, contact_id) VALUES ('Referral', :c)", c=contact)
        sql("INSERT INTO activities (customer_id, contact_id, type, subject) VALUES (:c, :k, 'visit', :s)",
            c=big, k=contact, s=f"{tag} visit {i}")
        sql("INSERT INTO opportunities (customer_id, name) VALUES (:c, :n)", c=big, n=f"{tag} big deal {i}")
        sql("INSERT INTO service_tickets (customer_id, subject) VALUES (:c, :s)", c=big, s=f"{tag} big ticket {i}")
    return big


class Statements:
    """Every SQL statement the app sends, per request."""

    def __init__(self, app):
        from app.extensions import db

        self.seen: list[str] = []
        with app.app_context():
            self.engine = db.engine
        event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, *args):
        if "crm_schema_version" not in statement:  # the once-a-second schema check is the process's, not the page's
            self.seen.append(statement)

    def during(self, client, url: str) -> list[str]:
        client.get(url)  # warm: the session's once-a-minute touch and first-use lookups happen here
        self.seen = []
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return self.seen

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def pages(sql, big: int) -> list[str]:
    first = {table: sql(f"SELECT min({pk}) FROM {table}")[0][0] for table, pk in (
        ("contacts", "contact_id"), ("leads", "lead_id"), ("opportunities", "opportunity_id"),
        ("activities", "activity_id"), ("service_tickets", "ticket_id"))}
    shows = [f"/customers/show/{big}"] + [f"{url}{first[table]}" for url, table in SHOWS.items()
                                         if table != "customers"]
    return LISTS + shows


def test_sql_statements_per_page_do_not_grow_with_rows(app, admin, sql):
    """No N+1: every list and show page sends as many statements with 66 rows as with 21."""
    big = add_family(sql, 21, "small")  # more than a customer 360 panel shows (20): its count runs
    statements = Statements(app)
    try:
        small = [(url, len(statements.during(admin, url))) for url in pages(sql, big)]
        big = add_family(sql, 45, "large")
        large = [(url, len(statements.during(admin, url))) for url in pages(sql, big)]
    finally:
        statements.close()
    assert [n for _, n in large] == [n for _, n in small], (small, large)
    assert max(n for _, n in large) <= 20, [p for p in large if p[1] > 20]


def test_every_list_count_is_capped(app, admin, sql):
    """FAB's exact COUNT(*) would read every matching row: each count on a list stops at the cap."""
    big = add_family(sql, 3, "cap")
    statements = Statements(app)
    filtered = ["/customers/list/?_flt_0_name=cap", "/activities/list/?_flt_4_type=visit",
                f"/activities/list/?_flt_0_customer={big}", "/opportunities/list/?_flt_4_stage=initial",
                "/contacts/list/?_oc_ContactView=last_name&_od_ContactView=asc"]
    try:
        for url in LISTS + filtered + [f"/customers/show/{big}"]:
            counts = [s for s in statements.during(admin, url) if "count(" in s.lower()]
            assert all("LIMIT" in s for s in counts), (url, counts)
    finally:
        statements.close()


def _keys(page: str, route: str) -> list[int]:
    keys = []
    for key in re.findall(rf'href="/{route}/show/(\d+)', page):
        if int(key) not in keys:
            keys.append(int(key))
    return keys


def _link(page: str, rel: str, view: str = "") -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]*{view}[^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


def _walk(client, url: str, rel: str, route: str = "customers") -> list[list[int]]:
    seen = []
    while url:
        page = client.get(url)
        assert page.status_code == 200, url
        seen.append(_keys(page.text, route))
        url = _link(page.text, rel)
        assert len(seen) < 20, "paging did not end"
    return seen


@pytest.fixture
def tied_customers(sql):
    """60 customers on three industries and no industry (NULL), so sort values tie and include NULLs."""
    for i in range(60):
        sql("INSERT INTO customers (name, industry) VALUES (:n, :i)", n=f"Tie {i:02d}",
            i=[None, "Finance", "Retail", "Energy"][i % 4])


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_keyset_pages_walk_a_sorted_list_forwards_and_backwards(admin, sql, tied_customers, direction):
    """Next from the first page and Previous from the last visit every row once, in the list's order."""
    expected = [k for (k,) in sql(f"SELECT customer_id FROM customers ORDER BY industry {direction}, "
                                  f"customer_id {direction}")]
    url = f"/customers/list/?_oc_CustomerView=industry&_od_CustomerView={direction}"
    forwards = _walk(admin, url, "next")
    assert [len(p) for p in forwards] == [25, 25, 10]
    assert sum(forwards, []) == expected
    first = admin.get(url).text
    last = _link(first, "last")
    assert "before_CustomerView=end" in last
    backwards = _walk(admin, last, "prev")
    assert sum(reversed(backwards), []) == expected
    assert backwards[0] == expected[-10:]  # the last page is the end of the list, and says which page it is
    assert "page 3 of 3" in admin.get(last).text


def test_keyset_pages_keep_filters(admin, sql, tied_customers):
    expected = [k for (k,) in sql("SELECT customer_id FROM customers WHERE industry = 'Retail' "
                                  "ORDER BY customer_id DESC")]
    url = "/customers/list/?_flt_4_industry=Retail&psize_CustomerView=10"
    assert sum(_walk(admin, url, "next"), []) == expected


def test_page_numbers_still_work_and_deep_ones_read_keys_first(admin, sql, tied_customers, monkeypatch):
    """FAB's page_<View>=N arguments give the same rows, also beyond the deep-offset threshold."""
    import app.crud.datamodel

    expected = [k for (k,) in sql("SELECT customer_id FROM customers ORDER BY name ASC, customer_id ASC")]
    url = "/customers/list/?_oc_CustomerView=name&_od_CustomerView=asc&page_CustomerView=1"
    shallow = _keys(admin.get(url).text, "customers")
    monkeypatch.setattr(app.crud.datamodel, "DEEP_OFFSET", 0)
    deep = _keys(admin.get(url).text, "customers")
    assert shallow == deep == expected[25:50]


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_deep_pages_nearer_the_end_are_read_from_the_end(app, admin, sql, tied_customers, monkeypatch, direction):
    """A counted list's deep page nearer its end is read from the end, as a first page in the opposite order
    (an OFFSET would read and sort every row before it): the same rows, ties and NULLs included."""
    from app.crud import datamodel

    expected = [k for (k,) in sql(f"SELECT customer_id FROM customers ORDER BY industry {direction}, "
                                  f"customer_id {direction}")]
    opposite = "DESC" if direction == "asc" else "ASC"
    url = f"/customers/list/?_oc_CustomerView=industry&_od_CustomerView={direction}&psize_CustomerView=10"
    monkeypatch.setattr(datamodel, "DEEP_OFFSET", 0)
    statements = Statements(app)
    try:
        shown = []
        for page in range(6):
            shown.append(_keys(admin.get(f"{url}&page_CustomerView={page}").text, "customers"))
            backwards = [s for s in statements.seen if f"ORDER BY customers.industry {opposite}" in s]
            statements.seen = []
            assert bool(backwards) == (page >= 4), page  # offsets 40 and 50 of 60: nearer the end
    finally:
        statements.close()
    assert shown == [expected[i:i + 10] for i in range(0, 60, 10)]


def test_related_lists_on_show_pages_page_by_keyset(admin, sql):
    """A contact's activities (a related list; a customer's page is the 360 timeline) page by keyset."""
    big = add_family(sql, 1, "rel")
    (contact,), = sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'Rel', 'Li') "
                      "RETURNING contact_id", c=big)
    for i in range(30):
        sql("INSERT INTO activities (customer_id, contact_id, type, subject) VALUES (:c, :k, 'call', :s)",
            c=big, k=contact, s=f"rel call {i}")
    expected = [k for (k,) in sql("SELECT activity_id FROM activities WHERE contact_id = :c "
                                  "ORDER BY activity_date DESC, activity_id DESC", c=contact)]
    page = admin.get(f"/contacts/show/{contact}").text
    assert _keys(page, "activities") == expected[:25]
    following = _link(page, "next", "after_ActivityView=")
    assert following and "after_ActivityView=" in following
    second = admin.get(following).text
    assert f"/contacts/show/{contact}" in following
    shown = [k for k in _keys(second, "activities") if k in expected]
    assert shown == expected[25:]


def test_malformed_list_position_is_a_400(admin):
    response = admin.get("/customers/list/?after_CustomerView=not-a-position")
    assert response.status_code == 400
    assert admin.get("/customers/list/?before_CustomerView=WzEsMl0").status_code == 400  # [1,2]


def test_related_filters_are_ajax_selects_not_whole_tables(admin, sql):
    """FAB's filter on a related column would render every customer into a dropdown."""
    big = add_family(sql, 30, "flt")
    page = admin.get("/activities/list/").text.replace('\\"', '"').replace("\\u003c", "<").replace(
        "\\u003e", ">")  # the filter fields are JSON in FAB's page script
    assert 'crm-ajax-select" data-endpoint="/customers/lookup/"' in page
    assert 'crm-ajax-select" data-endpoint="/contacts/lookup/"' in page
    assert "flt customer 17" not in page  # no row of the related table is rendered
    filtered = admin.get(f"/activities/list/?_flt_0_customer={big}&psize_ActivityView=50").text.replace('\\"', '"').replace(
        "\\u003c", "<").replace("\\u003e", ">")
    assert re.search(rf'<option value="{big}"[^>]*>flt big customer</option>', filtered)  # the active filter is named
    assert set(_keys(filtered, "activities")) == {k for (k,) in sql(
        "SELECT activity_id FROM activities WHERE customer_id = :c", c=big)}


def test_lookup_answers_the_filter_widget(client, sql):
    sql("INSERT INTO customers (name) VALUES ('Lookup Target Ltd')")
    login(client)
    results = client.get("/customers/lookup/?q=Target").get_json()["results"]
    assert [r["text"].split(" (#")[0] for r in results] == ["Lookup Target Ltd"]


def test_list_filters_are_built_once_per_request(admin, sql, tied_customers, monkeypatch):
    """A list request builds its filters (every column's filter classes) at most once, not once per query
    (its joined filters share the catalogue of the screen's own: app/crud/datamodel.py, CrmFilters)."""
    from flask_appbuilder.models import filters as fab_filters

    built: list[str] = []
    build = fab_filters.Filters.__init__

    def counting(self, *args, **kwargs):
        built.append(type(self).__name__)
        build(self, *args, **kwargs)

    admin.get("/logs/list/")  # fills the cached filter form, whose user choices are a query of their own
    monkeypatch.setattr(fab_filters.Filters, "__init__", counting)
    first = admin.get("/customers/list/?_oc_CustomerView=name&_od_CustomerView=asc").text
    urls = ["/customers/list/", "/customers/list/?_flt_0_name=Tie&_flt_4_industry=Retail",
            _link(first, "next"), _link(first, "last"), "/logs/list/"]
    for url in urls:
        built.clear()
        assert admin.get(url).status_code == 200
        assert len(built) <= 1, url
