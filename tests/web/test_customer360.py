"""Customer 360 over HTTP: panels, pipeline value, one timeline paged by keyset, quick-add round trip."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.support.client import csrf_token, login, post_form, switch_language
from tests.support.htmlforms import form_fields
from tests.support.screens import parents
from tests.support.permissions import role_with
from tests.support.users import ROLE_PASSWORD, make_role_user


def timeline_of(page: str) -> list[tuple[str, int]]:
    return [(kind, int(i)) for kind, i in re.findall(r'data-kind="(\w+)" data-id="(\d+)"', page)]


def test_page_shows_details_contacts_open_pipeline_and_merged_timeline(admin, sql, owner_sql, add_rows):
    from app.models import Opportunity

    ids = parents(sql)
    cid = int(ids["customer"])
    add_rows(Opportunity, {"customer_id": cid, "name": "Open A 开放", "stage": "proposal", "value": Decimal("1000.25")},
             {"customer_id": cid, "name": "Open B", "stage": "initial", "value": Decimal("2000.50")},
             {"customer_id": cid, "name": "Open C no value", "stage": "negotiation"},
             {"customer_id": cid, "name": "Won deal", "stage": "won", "value": Decimal("99999")})
    (old_act,), = sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
                      "VALUES (:c, 'call', 'Old call', '2020-01-01 09:00') RETURNING activity_id", c=cid)
    (new_act,), = sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
                      "VALUES (:c, 'meeting', 'Future meeting 会议', '2099-01-01 09:00') RETURNING activity_id", c=cid)
    (ticket,), = sql("INSERT INTO service_tickets (customer_id, subject, created_at) "
                     "VALUES (:c, 'Broken 故障', '2021-06-01 12:00') RETURNING ticket_id", c=cid)
    # as the owner role (an operator in psql): a change without an application user, "the system"
    owner_sql("UPDATE customers SET location = 'Shenzhen 深圳' WHERE customer_id = :c", c=cid)
    response = admin.get(f"/customers/show/{cid}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    panel = page.split('id="open-opportunities"')[1].split('id="contacts"')[0]
    for text in ("Parent 父公司", "Shenzhen 深圳", "王"):
        assert text in page
    for text in ("Open A 开放", "Open B", "Open C no value", "1,000.25"):
        assert text in panel
    assert "Won deal" not in panel  # closed: not in the open pipeline
    assert re.search(r'id="pipeline-value">3,000.75<', page)
    entries = timeline_of(page)
    # newest first: the planned meeting, then today's changes (audit log), then the 2021 ticket, the 2020 call
    assert entries[0] == ("activity", new_act)
    assert entries[-2:] == [("ticket", ticket), ("activity", old_act)]
    changes = [e for e in entries if e[0] == "change"]
    assert changes and "The system set Location to Shenzhen 深圳" in page
    for view in ("contacts", "activities", "opportunities", "tickets"):
        assert f'href="/{view}/add?customer={cid}&amp;next=%2Fcustomers%2Fshow%2F{cid}"' in page


def _timeline_text(client, cid: int) -> str:
    page = client.get(f"/customers/show/{cid}").get_data(as_text=True)
    return " ".join(re.sub(r"<[^>]+>", " ", page[page.index('id="timeline"'):]).split())


@pytest.mark.parametrize("lang, said, hidden", [
    ("en", ["王丽 changed Stage from Proposal to Won", "王丽 changed Value from 12,500,000.00 to 13,000,000.50"],
     "王丽 changed Value"),
    ("zh", ["王丽将阶段从“提案”改为“赢单”", "王丽将预估价值从“12,500,000.00”改为“13,000,000.50”"],
     "王丽修改了预估价值")])
def test_timeline_says_changes_as_the_history_panel_does(app, admin, sql, lang, said, hidden):
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Acme 顶峰') RETURNING customer_id")
    sql("UPDATE users SET first_name = '丽', last_name = '王' WHERE username = 'admin'")
    assert post_form(admin, "/opportunities/add", {"customer": str(cid), "name": "Big deal", "stage": "proposal",
                                                   "value": "12,500,000"}).status_code == 302
    (deal,), = sql("SELECT opportunity_id FROM opportunities WHERE name = 'Big deal'")
    fields = form_fields(admin.get(f"/opportunities/edit/{deal}").get_data(as_text=True))
    assert post_form(admin, f"/opportunities/edit/{deal}",
                     {**fields, "stage": "won", "value": "13,000,000.50"}).status_code == 302
    switch_language(admin, lang)
    text = _timeline_text(admin, cid)
    for sentence in said:
        assert sentence in text
    assert "→" not in text and "stage:" not in text and "\\x" not in text
    # a role that reads customers and the log but not opportunities: amounts hidden
    role_with(app, sql, "Timeline Reader", "timeline",
              {"LogView": ("can_list",), "CustomerView": ("can_list", "can_show")})
    # its data scope reaches every customer and deal (row-level security), so only its
    # permissions (no OpportunityView) hide the amounts, not an invisible record
    sql("INSERT INTO role_data_scopes (role_id, table_name, scope) SELECT role_id, t, 'all' FROM roles, "
        "unnest(ARRAY['customers', 'opportunities']) t WHERE role_name = 'Timeline Reader'")
    reader = app.test_client()
    login(reader, "timeline", ROLE_PASSWORD)
    switch_language(reader, lang)
    text = _timeline_text(reader, cid)
    assert hidden in text and "13,000,000.50" not in text and said[0] in text


def test_timeline_pages_by_keyset_without_gaps_or_repeats(admin, sql):
    ids = parents(sql)
    cid = int(ids["customer"])
    # 60 activities, several sharing a time (ties are ordered by kind, then id)
    sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
        "SELECT :c, 'call', 'Call ' || i, '2024-01-01'::timestamp + (i / 3) * interval '1 hour' "
        "FROM generate_series(1, 60) i", c=cid)
    sql("INSERT INTO service_tickets (customer_id, subject, created_at) "
        "SELECT :c, 'Ticket ' || i, '2024-01-01'::timestamp + i * interval '1 hour' FROM generate_series(1, 10) i", c=cid)
    seen, url = [], f"/customers/show/{cid}"
    while url:
        page = admin.get(url).get_data(as_text=True)
        entries = timeline_of(page)
        assert 0 < len(entries) <= 25
        seen += entries
        match = re.search(r'href="([^"]*timeline_before=[^"#]+)#timeline"', page)
        url = match.group(1).replace("&amp;", "&") if match else None
    activities = sql("SELECT activity_id FROM activities WHERE customer_id = :c "
                     "ORDER BY activity_date DESC, activity_id DESC", c=cid)
    assert [i for k, i in seen if k == "activity"] == [r[0] for r in activities]
    assert len([1 for k, _ in seen if k == "ticket"]) == 10
    assert len(seen) == len(set(seen))
    assert admin.get(f"/customers/show/{cid}?timeline_before=garbage").status_code == 400


def test_old_changes_follow_a_full_page_of_newer_activities(admin, sql):
    """Changes are looked up only back to the page's oldest activity: older ones come on later pages."""
    ids = parents(sql)
    cid = int(ids["customer"])
    now = "date_trunc('minute', now() AT TIME ZONE 'utc')"
    sql(f"INSERT INTO activities (customer_id, type, subject, activity_date) "
        f"SELECT :c, 'call', 'Call ' || i, {now} - i * interval '20 minutes' FROM generate_series(1, 60) i", c=cid)
    old = [r[0] for r in sql(
        f"INSERT INTO logs (action, description, created_at, table_name, record_key) "
        f"SELECT 'update', 'old change ' || i, {now} - i * interval '7 hours', 'customers', :k "
        f"FROM generate_series(1, 8) i RETURNING log_id", k=str(cid))]
    seen, url = [], f"/customers/show/{cid}"
    while url:
        page = admin.get(url).get_data(as_text=True)
        seen += timeline_of(page)
        match = re.search(r'href="([^"]*timeline_before=[^"#]+)#timeline"', page)
        url = match.group(1).replace("&amp;", "&") if match else None
    changes = [i for k, i in seen if k == "change"]
    assert [i for i in changes if i in old] == old  # every one, newest first, once
    assert len(seen) == len(set(seen))
    assert [i for k, i in seen if k == "activity"] == [r[0] for r in sql(
        "SELECT activity_id FROM activities WHERE customer_id = :c ORDER BY activity_date DESC, activity_id DESC",
        c=cid)]
    first = timeline_of(admin.get(f"/customers/show/{cid}").get_data(as_text=True))
    assert ("change", old[0]) in first  # 7 h ago: among the first page's 25 entries (every 20 min)
    assert not set(first) & {("change", i) for i in old[1:]}  # 14 h back and more: older than the first page


def test_pipeline_value_is_bounded_and_says_so(admin, sql, add_rows, monkeypatch):
    from app.sales import customer360
    from app.models import Opportunity

    ids = parents(sql)
    cid = int(ids["customer"])
    add_rows(Opportunity, *[{"customer_id": cid, "name": f"Deal {i}", "stage": "initial", "value": Decimal(i)}
                            for i in range(1, 6)])
    monkeypatch.setattr(customer360, "PIPELINE_SUM_CAP", 3)
    page = admin.get(f"/customers/show/{cid}").get_data(as_text=True)
    assert re.search(r'id="pipeline-value">12.00<', page)  # 5 + 4 + 3: the three newest
    assert "sum of the 3 newest open opportunities with a value; there are more" in page


def test_quick_add_preselects_the_customer_and_returns_to_the_360_page(admin, sql):
    ids = parents(sql)
    cid = ids["customer"]
    back = f"/customers/show/{cid}"
    for url, values, table in (
            ("/contacts/add", {"first_name": "Quick", "last_name": "Add"}, "contacts"),
            ("/activities/add", {"type": "call", "subject": "Quick call", "activity_date": "2026-11-20 10:00:00"},
             "activities"),
            ("/opportunities/add", {"name": "Quick deal", "stage": "initial"}, "opportunities"),
            ("/tickets/add", {"subject": "Quick ticket", "status": "open", "priority": "low"}, "service_tickets")):
        form_url = f"{url}?customer={cid}&next={back}"
        page = admin.get(form_url).get_data(as_text=True)
        assert f'<option value="{cid}" selected>Parent 父公司</option>' in page
        fields = form_fields(page)
        assert fields["customer"] == cid
        response = admin.post(form_url, data={**fields, **values})
        assert response.status_code == 302 and response.headers["Location"] == back, url
        assert sql(f"SELECT count(*) FROM {table} WHERE customer_id = :c", c=int(cid))[0][0] >= 1


def test_quick_add_ignores_foreign_redirects_and_bad_ids(admin, sql):
    ids = parents(sql)
    page = admin.get("/contacts/add?customer=99999999").get_data(as_text=True)
    assert "selected>" not in page.split('name="customer"')[1].split("</select>")[0]
    assert admin.get("/contacts/add?customer=abc").status_code == 200
    token = csrf_token(admin, "/contacts/add")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = admin.post(f"/contacts/add?next={target}", data={
            "customer": ids["customer"], "first_name": "Safe", "last_name": "Redirect", "csrf_token": token})
        assert response.status_code == 302 and "evil" not in response.headers["Location"]


def test_panels_follow_the_users_permissions(app, sql):
    ids = parents(sql)
    cid = int(ids["customer"])
    sql("INSERT INTO opportunities (customer_id, name) VALUES (:c, 'Secret deal')", c=cid)
    sql("INSERT INTO service_tickets (customer_id, subject) VALUES (:c, 'Visible ticket')", c=cid)
    client = app.test_client()
    login(client, make_role_user(app, "Support Agent"), ROLE_PASSWORD)
    page = client.get(f"/customers/show/{cid}").get_data(as_text=True)
    assert "Visible ticket" in page and "王" in page
    assert "Secret deal" not in page and "Pipeline value" not in page
    assert "/tickets/add?customer=" in page and "/opportunities/add?customer=" not in page


def test_timeline_reads_through_the_index_at_100k_activities(admin, sql, owner_sql):
    """A customer with 100,000 activities: the page reads one index range, not the customer's rows."""
    ids = parents(sql)
    cid = int(ids["customer"])
    owner_sql("ALTER TABLE activities DISABLE TRIGGER USER")  # a bulk load: no audit rows, no version bumps
    owner_sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
              "SELECT :c, 'email', 'Mail ' || i, '2020-01-01'::timestamp + i * interval '1 minute' "
              "FROM generate_series(1, 100000) i", c=cid)
    owner_sql("ALTER TABLE activities ENABLE TRIGGER USER")
    owner_sql("ANALYZE activities")
    page = admin.get(f"/customers/show/{cid}").get_data(as_text=True)
    assert len(timeline_of(page)) == 25 and "Mail 100000" in page
    plan = "\n".join(r[0] for r in sql(
        "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM activities WHERE customer_id = :c "
        "AND (activity_date, activity_id) < ('2020-03-01', 1) ORDER BY activity_date DESC, activity_id DESC "
        "LIMIT 26", c=cid))
    # (customer, date) index, or the date index when (as here) one customer owns nearly every row
    assert re.search(r"Index Scan (Backward )?using ix_activities_(customer_id_activity_date|activity_date_sort)",
                     plan) and "Sort" not in plan, plan
    rows_read = max(int(n) for n in re.findall(r"actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", plan))
    assert rows_read <= 26
