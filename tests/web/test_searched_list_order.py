"""A searched list's page cut from its matches in the list's order (app/crud/datamodel.py, `page_of_matches`).

A searched list's matches carry its sort column with their keys (`search_matches`' `carry`):
the page is chosen from those in Python and only its rows are read, not all the matches again to be
sorted by the database. The rows and their order are the database's: compared here with an ORDER BY
of the same rows, for a rep and the admin, ties broken by the key and NULLs where PostgreSQL puts them.
"""
from __future__ import annotations

import re
from html import unescape

import pytest

from tests.support.apps import captured_statements
from tests.support.client import login
from tests.support.users import ROLE_PASSWORD, make_role_user, sql_as

PAGE = 25
# (sort arguments, the same order in SQL): the default (the date, newest first), then others
ORDERS = [("", "activity_date DESC, activity_id DESC"),
          ("&_oc_ActivityView=activity_date&_od_ActivityView=asc", "activity_date, activity_id"),
          ("&_oc_ActivityView=updated_at&_od_ActivityView=desc", "updated_at DESC, activity_id DESC"),
          ("&_oc_ActivityView=subject&_od_ActivityView=asc", "subject, activity_id")]


def _listed(page: str) -> list[int]:
    return [int(k) for k in dict.fromkeys(re.findall(r'href="/activities/show/(\d+)', page))]


@pytest.fixture
def rep(app, admin, sql):
    """A Sales Rep's client; 40 activities of theirs and 40 of the admin's hold the word, 10 days apart at most
    (ties in the date), between others that do not."""
    username = make_role_user(app, "Sales Rep")
    sql("INSERT INTO customers (name, owner_id) SELECT 'Ordered ' || username, user_id FROM users "
        "WHERE username IN (:rep, 'admin')", rep=username)
    sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
        "SELECT customer_id, 'call', CASE WHEN g % 3 = 0 THEN 'Other ' ELSE 'Ordertest ' END || (g % 9), "
        "timestamp '2026-03-01 09:00' + (g % 10) * interval '1 day' "
        "FROM customers, generate_series(1, 60) g WHERE name LIKE 'Ordered %'")
    sql("ANALYZE activities")
    client = app.test_client()
    assert login(client, username, ROLE_PASSWORD).status_code == 302
    return username, client


def test_a_searched_lists_pages_are_its_matches_in_the_lists_order(app, admin, rep):
    username, rep_client = rep
    for user, client, expected_count in ((username, rep_client, 40), ("admin", admin, 80)):
        for arguments, order in ORDERS:
            expected = [k for (k,) in sql_as(app, user)(
                f"SELECT activity_id FROM activities WHERE subject LIKE 'Ordertest%' ORDER BY {order}")]
            listed: list[int] = []
            for page in range(4):
                html = client.get(f"/activities/list/?q=Ordertest&psize_ActivityView={PAGE}"
                                  f"&page_ActivityView={page}{arguments}").get_data(as_text=True)
                assert f"Record Count:</strong> {expected_count}" in html
                listed += _listed(html)
            assert listed == expected and len(expected) == expected_count, (user, arguments)
            # and by keyset from the first page on (the Next links: the database's order after the first)
            html = client.get(f"/activities/list/?q=Ordertest&psize_ActivityView={PAGE}{arguments}").get_data(
                as_text=True)
            followed = _listed(html)
            while (following := re.search(r'rel="next" href="([^"]+)"', html)) is not None:
                html = client.get(unescape(following[1])).get_data(as_text=True)
                followed += _listed(html)
            assert followed == expected, (user, arguments)


@pytest.mark.parametrize("user", ["rep", "admin"])
def test_a_searched_page_reads_its_rows_only(app, admin, rep, user):
    """The matches come with their date (a rep's through their customers, the admin's from the newest rows and
    the indexes): no statement reads all of them again to sort them."""
    client = rep[1] if user == "rep" else admin
    with captured_statements(app) as statements:
        html = client.get("/activities/list/?q=Ordertest").get_data(as_text=True)
    assert len(_listed(html)) == PAGE
    read = [s for s in statements if re.search(r"FROM activities\b", s) and not s.startswith("EXPLAIN")
            and "IS NULL" not in s]  # (the session check asks whether any activity lacks a customer)
    assert len(read) == 2, read  # the matches (key and date), then the page's rows
    assert "activity_date" in read[0].split("FROM")[0] and "unnest" not in read[1], read


def test_matches_are_ordered_as_postgresql_orders_them(sql):
    """`in_list_order` against ORDER BY value, key: ties by the key, NULLs last ascending and first descending."""
    from app.lists.matches import in_list_order

    values = {"integer": "(1, 3), (2, NULL), (3, 3), (4, 1), (5, NULL), (6, 2), (7, 1)",
              "boolean": "(1, true), (2, NULL), (3, false), (4, true), (5, false)",
              "timestamp": "(1, timestamp '2026-01-02'), (2, NULL), (3, timestamp '2026-01-01 10:00'), "
                           "(4, timestamp '2026-01-02'), (5, NULL)"}
    for kind, rows in values.items():
        pairs = [tuple(r) for r in sql(f"SELECT k, v FROM (VALUES {rows}) t(k, v)")]
        for direction in ("ASC", "DESC"):
            ordered = sql(f"SELECT k FROM (VALUES {rows}) t(k, v) ORDER BY v {direction}, k {direction}")
            expected = [k for (k,) in ordered]
            assert in_list_order(pairs, direction == "DESC") == expected, (kind, direction)

