"""Record owners and data scopes, enforced by PostgreSQL row-level security (migration 0026), per path.

One prepared instance for the module: two reps in different teams (A and B), the manager of
team A, an auditor. Each rep creates records through the app; then every path shows each
user only what their scope reaches: a rep their own, the manager team A's, the auditor all
(and the auditor writes nothing). A record outside the scope answers 404, as if it did not exist.
"""
from __future__ import annotations

import csv
import io
import os
import re
from typing import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.support.api_keys import bearer, create_key
from tests.support.apps import team_instance
from tests.support.client import csrf_token, login
from tests.support.users import ROLE_PASSWORD

USERS = {"rep_a": "Sales Rep", "rep_b": "Sales Rep", "manager_a": "Sales Manager", "auditor": "Auditor"}
TEAMS = {"rep_a": "Team A", "manager_a": "Team A", "rep_b": "Team B"}
# what each user sees of the reps' records ("a": rep_a's, "b": rep_b's)
SEES = {"rep_a": {"a"}, "rep_b": {"b"}, "manager_a": {"a"}, "auditor": {"a", "b"}}
API = "/api/v1"


@pytest.fixture(scope="module")
def world(pg) -> Iterator[dict]:
    """The instance, its users and teams, and the records each rep created through the REST API."""
    with team_instance(pg, f"crm_test_data_scopes_{os.getpid()}", USERS, TEAMS) as (app, owner):
        yield from _records(app, owner)


def _records(app: Flask, owner) -> Iterator[dict]:
    records: dict[str, dict[str, int]] = {}
    tokens = {}
    for rep, mark in (("rep_a", "a"), ("rep_b", "b")):
        headers = tokens[rep] = jwt(app.test_client(), rep)
        client = app.test_client()
        customer = created(client.post(f"{API}/customers/", json={"name": f"Scoped {mark} customer"},
                                       headers=headers))
        contact = created(client.post(f"{API}/contacts/", headers=headers, json={
            "customer": customer, "first_name": "Scoped", "last_name": f"{mark} contact"}))
        lead = created(client.post(f"{API}/leads/", json={"source": f"Scoped {mark} lead", "contact": contact},
                                   headers=headers))
        opportunity = created(client.post(f"{API}/opportunities/", headers=headers, json={
            "customer": customer, "name": f"Scoped {mark} deal", "stage": "proposal"}))
        records[mark] = {"customers": customer, "contacts": contact, "leads": lead, "opportunities": opportunity}
    yield {"app": app, "owner": owner, "records": records, "tokens": tokens}


def jwt(client: FlaskClient, username: str) -> dict[str, str]:
    response = client.post(f"{API}/security/login",
                           json={"username": username, "password": ROLE_PASSWORD, "provider": "db"})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def created(response) -> int:
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def signed_in(world: dict, username: str) -> FlaskClient:
    """The user's signed-in client, one per module (sign-ins are rate-limited)."""
    clients = world.setdefault("clients", {})
    if username not in clients:
        clients[username] = world["app"].test_client()
        assert login(clients[username], username, ROLE_PASSWORD).status_code == 302
    return clients[username]


def token(world: dict, username: str) -> dict[str, str]:
    """The user's JWT headers, one per module."""
    tokens = world.setdefault("tokens", {})
    if username not in tokens:
        tokens[username] = jwt(world["app"].test_client(), username)
    return tokens[username]


def marks(page: str) -> set[str]:
    """Which reps' records ("a", "b") a page or file names (search results mark the matches up)."""
    plain = re.sub(r"<[^>]+>", "", page)
    return {mark for mark in "ab" if f"Scoped {mark} " in plain}


def test_new_records_are_owned_by_their_creator(world):
    with world["owner"].connect() as conn:
        for mark, rep in (("a", "rep_a"), ("b", "rep_b")):
            for table in ("customers", "leads", "opportunities"):
                key = {"customers": "customer_id", "leads": "lead_id", "opportunities": "opportunity_id"}[table]
                owner = conn.scalar(text(f"SELECT u.username FROM {table} JOIN users u ON u.user_id = owner_id "
                                         f"WHERE {key} = :k"), {"k": world["records"][mark][table]})
                assert owner == rep, (table, owner)


@pytest.mark.parametrize("username", list(SEES))
def test_lists_search_board_export_and_lookups_show_the_scope(world, username):
    client = signed_in(world, username)
    expected = SEES[username]
    for screen in ("customers", "contacts", "leads", "opportunities"):
        # "All" of the list's Mine / My team / All switch: everything the data scope reaches
        # (a team member's list opens on "Mine", test_ownership_screens.py)
        page = client.get(f"/{screen}/list/?view=all")
        assert page.status_code == 200
        assert marks(page.get_data(as_text=True)) == expected, screen
        found = client.get(f"/{screen}/list/?q=Scoped").get_data(as_text=True)
        assert marks(found) == expected, f"{screen} ?q="
    assert marks(client.get("/search/?q=Scoped").get_data(as_text=True)) == expected
    assert marks(client.get("/pipeline/?view=all").get_data(as_text=True)) == expected
    if USERS[username] != "Sales Rep":  # a rep may not export
        exported = client.get("/customers/export/").get_data(as_text=True)
        assert marks(exported) == expected and len(list(csv.DictReader(io.StringIO(exported)))) == len(expected)
    lookup = client.get("/customers/lookup/?q=Scoped").get_json()["results"]
    assert marks(" ".join(r["text"] + " " for r in lookup)) == expected


def test_the_session_check_names_the_acting_user_for_the_pages_statements(world, monkeypatch):
    """The session check's own statement sets `crm.user_id` (app/security/sessions.py): no SET of the audit
    context follows it, and the page still shows the rep's rows alone, also when the once-a-second schema
    check (app/fields/refresh.py) reads between the session check and Flask-Login's load of the user; and
    after a check that touched a stale session and committed, whose next transaction sets the user again."""
    import psycopg

    from app.audit.context import SET_ACTOR
    from app.fields import refresh

    client = signed_in(world, "rep_a")
    client.get("/customers/list/?view=all")
    sets: list[object] = []

    execute = psycopg.Cursor.execute  # psycopg's Connection.execute and SQLAlchemy's exec_driver_sql both use it

    def counted(self, query, *args, **kwargs):
        if query == SET_ACTOR:
            sets.append(args)
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    monkeypatch.setattr(refresh, "CHECK_EVERY", 0.0)  # the schema check reads in this request
    assert marks(client.get("/customers/list/?view=all").get_data(as_text=True)) == {"a"}
    assert sets == []
    monkeypatch.setattr(refresh, "CHECK_EVERY", 3600.0)
    with world["owner"].begin() as conn:
        conn.execute(text("UPDATE user_sessions SET last_seen_at = last_seen_at - interval '2 minutes'"))
    assert marks(client.get("/customers/list/?view=all").get_data(as_text=True)) == {"a"}
    assert len(sets) == 1  # the transaction after the touch's commit


@pytest.mark.parametrize("username", ["rep_a", "manager_a"])
def test_a_lists_scope_and_saved_views_come_with_the_session_check(world, username):
    """Once a kind of list page was served, the session check's statement also reads the acting user's data
    scopes and how many of the list's saved views they see (app/security/sessions.py): the same rows, no
    statement of their own; a view the user sees is then read (and shown in the Views menu)."""
    from sqlalchemy import event

    from app.extensions import db

    client = signed_in(world, username)
    with world["app"].app_context():
        engine = db.engine
    sent: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        sent.append(" ".join(statement.split()))

    def page() -> tuple[set[str], str, list[str]]:
        sent.clear()
        response = client.get("/contacts/list/?view=all")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        return marks(html), html, list(sent)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        page()  # teaches this process what the page reads, if an earlier test did not
        shown, html, statements = page()
        assert shown == SEES[username]
        assert not [s for s in statements if s.startswith("SELECT saved_views.")]
        assert [s for s in statements if "crm_data_scope" in s] == [statements[0]]  # the session check
        assert statements[0].startswith("SELECT users.") and "saved_views" in statements[0]
        with world["owner"].begin() as conn:
            conn.execute(text("INSERT INTO saved_views (user_id, view_name, name) SELECT user_id, 'ContactView', "
                              "'Checked along' FROM users WHERE username = :u"), {"u": username})
        try:
            shown, html, statements = page()
        finally:
            with world["owner"].begin() as conn:
                conn.execute(text("DELETE FROM saved_views WHERE name = 'Checked along'"))
        assert shown == SEES[username] and "Checked along" in html
        assert len([s for s in statements if s.startswith("SELECT saved_views.")]) == 1
    finally:
        event.remove(engine, "before_cursor_execute", seen)



@pytest.mark.parametrize("username", ["rep_a", "manager_a", "auditor"])
def test_a_counted_lists_first_page_reads_its_rows_and_count_in_one_statement(world, username):
    """A list's first page and its count come from one statement (the count a column of each row): the
    count is the user's rows, and an empty list counts none; the next page counts by itself."""
    from sqlalchemy import event

    from app.extensions import db
    from app.lists.links import EQ, list_url

    client = signed_in(world, username)
    with world["app"].app_context():
        engine = db.engine
    with world["app"].test_request_context():
        nothing = list_url("/customers", ("name", EQ, "No customer is called this"))
    sent: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        sent.append(" ".join(statement.split()))

    def page(url: str) -> tuple[str, list[str]]:
        sent.clear()
        response = client.get(url)
        assert response.status_code == 200
        return response.get_data(as_text=True), [s for s in sent if "FROM customers" in s and "users." not in s[:20]]

    event.listen(engine, "before_cursor_execute", seen)
    try:
        html, read = page("/customers/list/?view=all")
        assert re.search(r"Record Count:</strong> (\S+)", html)[1] == str(len(SEES[username]))
        assert marks(html) == SEES[username]
        assert len(read) == 1 and "count(*)" in read[0], read  # rows and count: one statement
        html, read = page(nothing)
        assert "Scoped" not in html and not re.search(r"Record Count:</strong> [1-9]", html)
        assert len(read) == 1, read
        html, read = page("/customers/list/?view=all&psize_CustomerView=1&page_CustomerView=1")
        if len(SEES[username]) > 1:  # a second page: counted by itself, then read
            assert re.search(r"Record Count:</strong> (\S+)", html)[1] == "2" and len(read) == 2, read
    finally:
        event.remove(engine, "before_cursor_execute", seen)

def test_the_crm_wide_search_finds_the_scopes_rows_for_every_kind_of_query(world):
    """Narrowed to the user's rows (app/search/scoped.py): words, a short word start and two Chinese
    characters find the user's rows of every kind and never another rep's; so do rep_a's late rows, a
    customer and a deal after more of rep_a's rows than the own-rows windows read (PROBE_ROWS), which
    only the index lookups within the user's rows find."""
    from app.search.scoped import PROBE_ROWS

    filler = ("INSERT INTO customers (name, owner_id) SELECT 'Filler ' || g, user_id "
              "FROM users, generate_series(1, :n) g WHERE username = 'rep_a'")
    late = ("INSERT INTO customers (name, owner_id) SELECT 'Late Scoped ' || :mark || ' customer', user_id "
            "FROM users WHERE username = :rep RETURNING customer_id")
    with world["owner"].begin() as conn:
        conn.execute(text(filler), {"n": PROBE_ROWS + 10})
        for mark, rep in (("a", "rep_a"), ("b", "rep_b")):
            customer = conn.scalar(text(late), {"mark": mark, "rep": rep})
            conn.execute(text("INSERT INTO opportunities (customer_id, name, stage, owner_id) SELECT customer_id, "
                              "'Late Scoped ' || :mark || ' deal', 'proposal', owner_id FROM customers "
                              "WHERE customer_id = :c"), {"c": customer, "mark": mark})
            conn.execute(text("INSERT INTO activities (customer_id, type, subject) VALUES (:c, 'call', "
                              "'Scoped ' || :mark || ' 续签 call')"), {"c": world["records"][mark]["customers"],
                                                                    "mark": mark})
    try:
        for username, expected in SEES.items():
            client = signed_in(world, username)
            for query, kinds in (("Scoped", ("customers", "contacts", "opportunities", "activities")),
                                 ("sc", ("customers", "contacts")), ("续签", ("activities",)),
                                 ("Late", ("customers", "opportunities"))):
                page = client.get(f"/search/?q={query}").get_data(as_text=True)
                assert marks(page) == expected, (username, query)
                assert all(f"/{kind}/show/" in page for kind in kinds), (username, query)
    finally:
        with world["owner"].begin() as conn:
            conn.execute(text("DELETE FROM activities WHERE subject LIKE 'Scoped %'"))
            conn.execute(text("DELETE FROM opportunities WHERE name LIKE 'Late Scoped %'"))
            conn.execute(text("DELETE FROM customers WHERE name LIKE 'Filler %' OR name LIKE 'Late Scoped %'"))


@pytest.mark.parametrize("username", list(SEES))
def test_the_api_with_a_token_and_with_a_key_shows_the_scope(world, username):
    client = world["app"].test_client()
    for headers in (token(world, username), bearer(create_key(world["app"], username, f"scoped-{username}"))):
        for resource in ("customers", "leads", "opportunities", "contacts"):
            body = client.get(f"{API}/{resource}/", headers=headers).get_json()
            assert body["count"] == len(SEES[username]), (resource, body)
        for mark in "ab":
            status = client.get(f"{API}/customers/{world['records'][mark]['customers']}", headers=headers).status_code
            assert status == (200 if mark in SEES[username] else 404)


def test_out_of_scope_records_answer_404_on_every_page_and_call(world):
    client = signed_in(world, "rep_a")
    theirs = world["records"]["b"]
    for screen in ("customers", "contacts", "leads", "opportunities"):
        assert client.get(f"/{screen}/show/{theirs[screen]}").status_code == 404, screen
        assert client.get(f"/{screen}/edit/{theirs[screen]}").status_code == 404, screen
    manager = signed_in(world, "manager_a")  # may delete, but team B's records are not in reach
    form_token = csrf_token(manager, "/customers/list/?view=all")
    assert manager.post(f"/customers/delete/{theirs['customers']}", data={"csrf_token": form_token}).status_code == 404
    assert client.get(f"/leads/convert/{theirs['leads']}").status_code == 404
    api = world["app"].test_client()  # no session cookie: a token alone
    assert api.put(f"{API}/customers/{theirs['customers']}", json={"industry": "Taken"},
                   headers=token(world, "rep_a")).status_code == 404
    assert api.delete(f"{API}/opportunities/{theirs['opportunities']}",
                         headers=token(world, "manager_a")).status_code == 404
    with world["owner"].connect() as conn:
        assert conn.scalar(text("SELECT industry FROM customers WHERE customer_id = :c"),
                           {"c": theirs["customers"]}) is None


def test_the_auditor_sees_all_and_writes_nothing(world):
    client = world["app"].test_client()
    headers = token(world, "auditor")
    mine = world["records"]["a"]
    assert client.put(f"{API}/customers/{mine['customers']}", json={"industry": "Audited"},
                      headers=headers).status_code == 403
    assert client.post(f"{API}/customers/", json={"name": "Auditor's own"}, headers=headers).status_code == 403
    with world["owner"].connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM customers WHERE name = 'Auditor''s own' "
                                "OR industry = 'Audited'")) == 0


def test_a_rep_converts_their_own_lead_and_owns_what_it_makes(world):
    client = signed_in(world, "rep_a")
    lead = world["records"]["a"]["leads"]
    page = client.get(f"/leads/convert/{lead}")
    assert page.status_code == 200
    from tests.support.htmlforms import form_fields

    fields = form_fields(page.get_data(as_text=True).replace('id="convert-form"', 'id="model_form"'))
    fields.update(opportunity_name="Scoped a converted", stage="proposal")
    assert client.post(f"/leads/convert/{lead}", data=fields).status_code == 302
    with world["owner"].connect() as conn:
        owner = conn.scalar(text("SELECT u.username FROM opportunities o JOIN users u ON u.user_id = o.owner_id "
                                 "WHERE o.name = 'Scoped a converted'"))
    assert owner == "rep_a"


def test_home_counts_and_dashboard_reveal_nothing_beyond_the_scope(world):
    client = signed_in(world, "rep_a")
    home = client.get("/").get_data(as_text=True)
    assert "about" not in home.lower()  # no planner estimates of whole tables
    dashboard = client.get("/dashboard/").get_data(as_text=True)  # per-owner facts: only rep_a's own
    assert "/dashboard/history/" not in dashboard and "crm-report" in dashboard
    auditor = signed_in(world, "auditor").get("/dashboard/").get_data(as_text=True)
    assert "/dashboard/history/" in auditor and "crm-report" in auditor


def test_policies_hold_in_plain_sql_as_the_runtime_role(world):
    """Without the app: no user set, no row and no write; a user set, their own rows; no giving away."""
    app: Flask = world["app"]
    from app.extensions import db
    from tests.support.users import act_as

    with app.app_context(), db.engine.connect() as conn:
        for table in ("customers", "contacts", "leads", "opportunities", "activities", "service_tickets"):
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
        with pytest.raises(Exception, match="row-level security"):
            conn.execute(text("INSERT INTO customers (name) VALUES ('Nobody''s')"))
        conn.rollback()
        act_as(conn, "rep_a")
        names = set(conn.scalars(text("SELECT name FROM customers")))
        assert names == {"Scoped a customer"}
        assert conn.scalar(text("SELECT count(*) FROM customers WHERE owner_id IS NULL")) == 0
        theirs = world["records"]["b"]["customers"]
        assert conn.execute(text("UPDATE customers SET industry = 'x' WHERE customer_id = :c"),
                            {"c": theirs}).rowcount == 0
        with pytest.raises(Exception, match="row-level security"):  # a rep cannot give a record away
            conn.execute(text("UPDATE customers SET owner_id = (SELECT user_id FROM users WHERE username = 'rep_b') "
                              "WHERE name = 'Scoped a customer'"))
        conn.rollback()
        act_as(conn, "manager_a")  # a manager reassigns within the team, not outside it
        mine = world["records"]["a"]["customers"]
        assert conn.execute(text("UPDATE customers SET owner_id = (SELECT user_id FROM users "
                                 "WHERE username = 'manager_a') WHERE customer_id = :c"), {"c": mine}).rowcount == 1
        with pytest.raises(Exception, match="row-level security"):
            conn.execute(text("UPDATE customers SET owner_id = (SELECT user_id FROM users WHERE username = 'rep_b') "
                              "WHERE customer_id = :c"), {"c": mine})
        conn.rollback()


def user_ids(world: dict) -> dict[str, int]:
    with world["owner"].connect() as conn:
        return dict(conn.execute(text("SELECT username, user_id FROM users")).all())


def unchanged(world: dict) -> None:
    """Nothing the refused writes below tried is in the database: every record still its creator's."""
    with world["owner"].connect() as conn:
        owners = conn.execute(text("SELECT c.name, u.username FROM customers c JOIN users u ON u.user_id = owner_id "
                                   "WHERE c.name LIKE 'Scoped %' OR c.name LIKE 'Refused %' ORDER BY 1")).all()
    assert owners == [("Scoped a customer", "rep_a"), ("Scoped b customer", "rep_b")]


SCOPE_ERROR = "records are outside your data scope"


def test_a_write_the_scope_refuses_is_a_403_on_the_api(world):
    client, headers, ids = world["app"].test_client(), token(world, "rep_a"), user_ids(world)
    mine = world["records"]["a"]
    for method, url, body in (("put", f"{API}/customers/{mine['customers']}", {"owner": ids["rep_b"]}),
                              ("post", f"{API}/customers/", {"name": "Refused gift", "owner": ids["rep_b"]}),
                              ("put", f"{API}/leads/{mine['leads']}", {"owner": ids["rep_b"]})):
        response = getattr(client, method)(url, json=body, headers=headers)
        assert response.status_code == 403, (url, response.get_json())
        assert "outside your data scope" in response.get_json()["message"]
    unchanged(world)


def test_forms_and_bulk_set_refuse_an_owner_outside_the_scope_as_a_form_error(world):
    from tests.support.htmlforms import form_fields

    ids, mine = user_ids(world), world["records"]["a"]["customers"]
    rep = signed_in(world, "rep_a")
    for url, extra in ((f"/customers/edit/{mine}", {}), ("/customers/add", {"name": "Refused add"})):
        fields = {**form_fields(rep.get(url).get_data(as_text=True)), **extra, "owner": str(ids["rep_b"])}
        page = rep.post(url, data=fields)
        assert page.status_code == 200 and SCOPE_ERROR in page.get_data(as_text=True), url
    manager = signed_in(world, "manager_a")  # team A's: may reassign within the team, not to rep_b
    url = f"/customers/bulk/set?ids={mine}&field=owner"
    page = manager.get(url).get_data(as_text=True)
    expected = page.split('name="expected" value="', 1)[1].split('"', 1)[0]
    refused = manager.post(url, data={"csrf_token": csrf_token(manager, url), "expected": expected,
                                      "field": "owner", "owner": str(ids["rep_b"])})
    assert refused.status_code == 400 and SCOPE_ERROR in refused.get_data(as_text=True)
    unchanged(world)


def test_a_csv_import_names_each_row_given_outside_the_scope_and_writes_nothing(world):
    manager = signed_in(world, "manager_a")
    ids = user_ids(world)

    def upload(content: str) -> str:
        return manager.post("/customers/import/", data={
            "csrf_token": csrf_token(manager, "/customers/import/"), "encoding": "auto",
            "file": (io.BytesIO(content.encode()), "owners.csv")}, content_type="multipart/form-data").get_data(
            as_text=True)

    page = upload("Name,Owner\r\nRefused 1,rep_a\r\nRefused 2,rep_b\r\n")  # owners by username
    assert re.findall(r"<tr><td>(\d+)</td><td>Owner</td><td>([^<]*)</td></tr>", page) == [
        ("3", f"You cannot give records to user #{ids['rep_b']}: their records are outside your data scope.")]
    # checked while rep_a was in the team; by the confirmation they have left it: refused as a whole
    page = upload(f"Name,Owner\r\nRefused 3,{ids['rep_a']}\r\nRefused 4,\r\n")
    action = re.search(r'action="(/customers/import/[^"]+)"', page).group(1)
    move = "UPDATE users SET team_id = (SELECT team_id FROM teams WHERE name = :t) WHERE username = 'rep_a'"
    with world["owner"].begin() as conn:
        conn.execute(text(move), {"t": "Team B"})
    try:
        confirmed = manager.post(action, data={"csrf_token": csrf_token(manager, "/")})
    finally:
        with world["owner"].begin() as conn:
            conn.execute(text(move), {"t": "Team A"})
    assert confirmed.status_code == 409 and "Nothing was imported" in confirmed.get_data(as_text=True)
    unchanged(world)


def test_a_refusal_no_check_caught_is_a_403_and_rolled_back(world):
    """The safety net (app/web/errors.py): a write the policies refuse that reached no check of its own."""
    from app.extensions import db
    from app.web.errors import refused_by_policy

    app: Flask = world["app"]
    for path, json_body in (("/api/v1/customers/", True), ("/customers/add", False)):
        with app.test_request_context(path, method="POST"):
            with pytest.raises(Exception) as refused:  # no user set: every write is refused
                db.session.execute(text("INSERT INTO customers (name) VALUES ('Refused net')"))
            response = refused_by_policy(refused.value)
            assert response.status_code == 403 and (response.is_json == json_body)
            assert db.session.scalar(text("SELECT 1")) == 1  # the failed transaction was rolled back
            db.session.remove()
    unchanged(world)


def customers_read_by_key(plan: list[str]) -> bool:
    """Every read of customers in an EXPLAIN is an index lookup: by (owner_id, key) or by one customer's key."""
    reads = [i for i, line in enumerate(plan) if " on customers" in line]
    lookups = ("Index Cond: (owner_id = ANY", "Recheck Cond: (owner_id = ANY", "Index Cond: (customer_id = ")
    return bool(reads) and all(
        "Seq Scan" not in plan[i] and any(cond in line for line in plan[i + 1:i + 4] for cond in lookups)
        for i in reads)


def test_follower_policies_read_the_users_own_customers_through_the_owner_index(world):
    """Migration 0027: a rep's contacts and activities come from their customers found by key (through the
    owner index or one probe per row, as the planner costs it on this data), never by reading every customer;
    an activity with only a contact is still counted (no semi-join then)."""
    app: Flask = world["app"]
    from app.extensions import db
    from tests.support.users import act_as

    with app.app_context(), db.engine.connect() as conn:
        act_as(conn, "rep_a")
        conn.execute(text("SET LOCAL enable_seqscan = off"))  # what the index allows, whatever the table size
        for table in ("contacts", "activities"):
            plan = list(conn.scalars(text(f"EXPLAIN SELECT count(*) FROM {table}")))
            assert customers_read_by_key(plan), "\n".join(plan)
        conn.rollback()
    client, headers = world["app"].test_client(), token(world, "rep_a")
    count = lambda: client.get(f"{API}/activities/", headers=headers).get_json()["count"]  # noqa: E731
    before = count()
    created(client.post(f"{API}/activities/", headers=headers, json={
        "contact": world["records"]["a"]["contacts"], "type": "call", "subject": "Contact only"}))
    assert count() == before + 1
    # asked as the user, in the request: whether the scope was read for the activities or another table first
    assert [contactless(app, user, first) for user in ("rep_a", "rep_b") for first in ("activities", "customers")] \
        == [True, True, False, False]


def contactless(app: Flask, username: str, first: str) -> bool:
    """`contactless_activities()` in a request of `username` that read the scope of table `first` before."""
    from app.audit.context import acting_as
    from app.extensions import db
    from app.lists.scope import contactless_activities, visible_owners
    from tests.support.users import user_actor

    with app.test_request_context(), acting_as(user_actor(app, username)):
        visible_owners(first)
        try:
            return contactless_activities()
        finally:
            db.session.remove()


def test_a_scoped_users_list_search_finds_their_rows_past_the_windows(world):
    """A rep's searched customers list looks within their rows (app/lists/matches.py, `own_matches_statement`):
    rows past the first window (PROBE_ROWS of theirs) are found by the index lookups within their rows, a
    common term fills the cap from the windows, and no other rep's row is ever listed or counted."""
    from app.search.scoped import PROBE_ROWS

    add = ("INSERT INTO customers (name, owner_id) SELECT :name || ' ' || g, user_id "
           "FROM users, generate_series(1, :n) g WHERE username = :rep")
    with world["owner"].begin() as conn:
        conn.execute(text(add), {"name": "Wanted Scoped a early", "n": 4, "rep": "rep_a"})
        conn.execute(text(add), {"name": "Filler", "n": PROBE_ROWS + 10, "rep": "rep_a"})
        conn.execute(text(add), {"name": "Wanted Scoped a late", "n": 3, "rep": "rep_a"})
        conn.execute(text(add), {"name": "Wanted Scoped b", "n": 2, "rep": "rep_b"})
        conn.execute(text("ANALYZE customers"))
    try:
        pages = {(rep, q): signed_in(world, rep).get(f"/customers/list/?q={q}&psize_CustomerView=100")
                 .get_data(as_text=True) for rep in ("rep_a", "rep_b") for q in ("Wanted", "Filler")}
    finally:
        with world["owner"].begin() as conn:
            conn.execute(text("DELETE FROM customers WHERE name LIKE 'Filler %' OR name LIKE 'Wanted %'"))
    count = {key: re.search(r"Record Count:</strong> (\S+)", page)[1] for key, page in pages.items()}
    assert count == {("rep_a", "Wanted"): "7", ("rep_a", "Filler"): "1,000+",
                     ("rep_b", "Wanted"): "2", ("rep_b", "Filler"): "0"}
    wanted = pages["rep_a", "Wanted"]
    assert marks(wanted) == {"a"} and "a early 4" in wanted and "a late 3" in wanted
    assert marks(pages["rep_b", "Wanted"]) == {"b"}


def test_a_scoped_users_contacts_search_finds_two_chinese_characters_in_any_column(world):
    """A rep's contacts searched for two CJK characters, read through their customers with each column's check
    (app/search/conditions.py, `per_column`): found in a first name, a last name or a position, never rep_b's."""
    add = ("INSERT INTO contacts (customer_id, first_name, last_name, position) "
           "VALUES (:customer, :first, :last, :position)")
    people = {"a": [("经理", "王", "销售"), ("晓明", "经理人", None), ("丽", "李", "区域经理")],
              "b": [("强", "张", "经理")]}
    with world["owner"].begin() as conn:
        for mark, rows in people.items():
            for first, last, position in rows:
                conn.execute(text(add), {"customer": world["records"][mark]["customers"], "first": first,
                                         "last": last, "position": position})
        conn.execute(text("ANALYZE contacts"))
    try:
        pages = {rep: signed_in(world, rep).get("/contacts/list/?q=经理").get_data(as_text=True)
                 for rep in ("rep_a", "rep_b")}
    finally:
        with world["owner"].begin() as conn:
            conn.execute(text("DELETE FROM contacts WHERE first_name IN ('经理', '晓明', '丽', '强')"))
    assert re.search(r"Record Count:</strong> (\S+)", pages["rep_a"])[1] == "3"
    assert all(name in pages["rep_a"] for name in ("经理人", "区域经理", "销售")) and "张" not in pages["rep_a"]
    assert re.search(r"Record Count:</strong> (\S+)", pages["rep_b"])[1] == "1" and "张" in pages["rep_b"]


@pytest.mark.parametrize("by_index", [False, True], ids=["rows_one_by_one", "search_index"])
def test_a_scoped_users_short_search_tests_the_policy_only_on_rows_holding_the_query(world, monkeypatch, by_index):
    """A rep's contacts searched for two CJK characters (app/search/conditions.py, `candidate`; app/lists/matches.py,
    `keys_as_planned`): the leakproof ILIKE runs before the policy's test of each row's customer, so only the
    rows holding the query are tested; read one by one, the key statement computes no bigrams (the exact
    checks say it all); through the bigram index (the planner's choice for a rare term) it keeps them.
    One or two letters are held as the word the rows start a word with (the query without its stop)."""
    from sqlalchemy import event

    from app.extensions import db
    from app.lists import planner
    from tests.support.users import act_as

    if not by_index:  # the bigram index is read by bitmap scans only: without them, rows one by one
        monkeypatch.setitem(planner.INDEX_LOOKUP_SETTINGS, "enable_bitmapscan", "off")
    add = ("INSERT INTO contacts (customer_id, first_name, last_name, position) "
           "SELECT :customer, :first || g, '李', :position FROM generate_series(1, :n) g")
    with world["owner"].begin() as conn:
        for mark, first, position, n in (("a", "Held", "销售经理", 3), ("a", "Other", "销售", 40),
                                         ("b", "Held", "经理", 2)):
            conn.execute(text(add), {"customer": world["records"][mark]["customers"], "first": first,
                                     "position": position, "n": n})
        conn.execute(text("ANALYZE contacts"))
    sent: list[tuple[str, dict]] = []

    def keep(_conn, _cursor, statement, params, *_args) -> None:
        if statement.startswith("SELECT contacts.contact_id \nFROM contacts"):
            sent.append((statement, params))
    with world["app"].app_context():
        event.listen(db.engine, "before_cursor_execute", keep)
    try:
        page = signed_in(world, "rep_a").get("/contacts/list/?q=经理").get_data(as_text=True)
        # one letter and a stop: a word starting with "h" ("Held1", not "Other"), held as "h", not "h."
        lettered = signed_in(world, "rep_a").get("/contacts/list/?q=h.").get_data(as_text=True)
        with world["app"].app_context(), db.engine.connect() as conn:
            act_as(conn, "rep_a")
            for name, value in planner.INDEX_LOOKUP_SETTINGS.items():
                conn.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
            plan = list(conn.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + sent[0][0], sent[0][1]).scalars())
            conn.rollback()
    finally:
        with world["app"].app_context():
            event.remove(db.engine, "before_cursor_execute", keep)
        with world["owner"].begin() as conn:
            conn.execute(text("DELETE FROM contacts WHERE last_name = '李'"))
    assert re.search(r"Record Count:</strong> (\S+)", page)[1] == "3" and "Held3" in page and "Other" not in page
    assert re.search(r"Record Count:</strong> (\S+)", lettered)[1] == "3" and "Other" not in lettered
    statement = sent[0][0]
    assert statement.index("texticlike(") < statement.index("strpos("), statement
    assert ("crm_cjk_bigrams(" in statement) == by_index, "\n".join(plan)
    assert any("_bigrams" in line for line in plan) == by_index, "\n".join(plan)
    checked = next(line for line in plan if "Filter:" in line and "texticlike(" in line)
    assert -1 < checked.find("texticlike(") < checked.find("SubPlan"), "\n".join(plan)  # the policy after


def test_a_scoped_users_list_counts_their_rows_up_to_a_thousand(world):
    """A user who sees only some owners' rows gets "1,000+" past SCOPED_COUNT_CAP (each counted row passes
    the policy); who sees all is counted exactly up to COUNT_CAP."""
    bulk = ("INSERT INTO customers (name, owner_id) SELECT 'Many ' || g, user_id "
            "FROM users, generate_series(1, 1001) g WHERE username = 'rep_a'")
    with world["owner"].begin() as conn:
        conn.execute(text(bulk))
    try:
        rep = signed_in(world, "rep_a").get("/customers/list/").get_data(as_text=True)
        auditor = signed_in(world, "auditor").get("/customers/list/?view=all").get_data(as_text=True)
    finally:
        with world["owner"].begin() as conn:
            conn.execute(text("DELETE FROM customers WHERE name LIKE 'Many %'"))
    with world["owner"].connect() as conn:
        total = conn.scalar(text("SELECT count(*) FROM customers")) + 1001
    shown = [re.search(r"Record Count:</strong> (\S+)", page)[1] for page in (rep, auditor)]
    assert shown == ["1,000+", str(total)]


def test_a_whole_tables_estimate_kept_for_the_app_is_never_a_scoped_users_count(world, monkeypatch):
    """A big table's estimate is kept per app for a minute once a user who sees all rows met it; a rep's
    list in the same app still counts their own rows ("1,000+"), not the whole table's estimate."""
    from app.lists import counts

    monkeypatch.setattr(counts, "COUNT_CAP", 100)  # the table is "big" past 200 rows: kept after one request
    world["app"].extensions.pop("crm_big_estimates", None)
    bulk = ("INSERT INTO customers (name, owner_id) SELECT 'Kept ' || g, user_id "
            "FROM users, generate_series(1, 1001) g WHERE username = 'rep_a'")
    with world["owner"].begin() as conn:
        conn.execute(text(bulk))
        conn.execute(text("ANALYZE customers"))
    try:
        signed_in(world, "auditor").get("/customers/list/?view=all")
        kept = world["app"].extensions.get("crm_big_estimates", {}).get("customers")
        rep = signed_in(world, "rep_a").get("/customers/list/").get_data(as_text=True)
    finally:
        world["app"].extensions.pop("crm_big_estimates", None)
        with world["owner"].begin() as conn:
            conn.execute(text("DELETE FROM customers WHERE name LIKE 'Kept %'"))
    assert kept is not None and kept[0] > 1001  # the auditor's request kept the whole table's estimate
    assert re.search(r"Record Count:</strong> (\S+)", rep)[1] == "1,000+"


def test_a_scoped_users_deep_pages_read_their_customers_rows(world, monkeypatch):
    """Past DEEP_OFFSET a page's keys are read first: a scoped user's contacts from their customers' rows
    (a semi-join on the customer index), not by walking the table's sort index past every other owner's
    rows (a rep's page 1,319 of activities at scale 1: 30 s, then an error)."""
    from sqlalchemy import event

    from app.crud import datamodel
    from app.extensions import db

    client = signed_in(world, "rep_a")
    shallow = client.get("/contacts/list/?view=all").get_data(as_text=True)
    with world["app"].app_context():
        engine = db.engine
    seen: list[str] = []

    def listen(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    monkeypatch.setattr(datamodel, "DEEP_OFFSET", -1)  # the first page is read as a deep one
    event.listen(engine, "before_cursor_execute", listen)
    try:
        deep = client.get("/contacts/list/?view=all").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert marks(deep) == marks(shallow) == {"a"}
    keys = [s for s in seen if re.match(r"\s*SELECT contacts\.contact_id\s", s) and "OFFSET" in s]
    # the user's customers as one array, read once: the policy then hashes them rather than probing per row
    assert len(keys) == 1 and "= ANY (array((SELECT customers.customer_id" in keys[0], seen


def test_the_crm_wide_search_checks_each_of_a_reps_rows_once_past_the_first_window(world):
    """A rep's contacts, more than the first window (PROBE_ROWS) holds and stored in another order than their
    customers', searched for a term the first window holds often enough to read further (WIDEN_AT): every
    match is counted. Both windows are one read of the rep's rows in their customers' order, as far as the
    windows ask (app/search/scoped.py, `_theirs`): read apart, the second was a bitmap scan at scale 1, whose
    OFFSET skipped other rows than the first window had read (rep22's contacts holding 王: 55 found of 64)."""
    from app.search.scoped import PROBE_ROWS

    spread = ("WITH theirs AS (INSERT INTO customers (name, owner_id) SELECT 'Spread customer ' || g, user_id "
              "FROM users, generate_series(1, 40) g WHERE username = 'rep_a' RETURNING customer_id), "
              "keyed AS (SELECT customer_id, row_number() OVER (ORDER BY customer_id) - 1 AS i FROM theirs) "
              "INSERT INTO contacts (customer_id, first_name, last_name) "
              "SELECT customer_id, CASE WHEN g % 100 = 0 THEN 'Spreadmatch' ELSE 'Spreadfill' END, 'Contact ' || g "
              "FROM generate_series(1, :n) g JOIN keyed ON keyed.i = g % 40 ORDER BY g")  # stored round the customers
    with world["owner"].begin() as conn:
        conn.execute(text(spread), {"n": 6 * PROBE_ROWS})
        conn.execute(text("ANALYZE customers; ANALYZE contacts"))
        wanted = conn.scalar(text("SELECT count(*) FROM contacts WHERE first_name = 'Spreadmatch'"))
    try:
        page = signed_in(world, "rep_a").get("/search/?q=Spreadmatch").get_data(as_text=True)
        plan = contacts_search_plan(world["app"], "rep_a", "Spreadmatch")
    finally:
        with world["owner"].begin() as conn:
            conn.execute(text("DELETE FROM contacts WHERE first_name LIKE 'Spread%'"))
            conn.execute(text("DELETE FROM customers WHERE name LIKE 'Spread customer %'"))
    group = re.search(r'data-entity="contacts".*?<span class="badge">([^<]+)</span>', page, re.S)
    assert group is not None and group[1] == str(wanted) == "60", page
    # the windows read one scan of the rep's rows, in the customer index's order (no sort: read only as far as asked)
    assert plan.count("CTE Scan on theirs") == 2, plan
    theirs = plan[plan.index("CTE theirs"):plan.index("CTE mine")]
    assert "Index Scan using ix_contacts_customer_id" in theirs and "Sort" not in theirs, plan


def contacts_search_plan(app: Flask, username: str, query: str) -> str:
    """EXPLAIN of the CRM-wide search's contacts statement for `username`, as the search runs it."""
    from app.audit.context import acting_as
    from app.extensions import db
    from app.lists.planner import INDEX_LOOKUP_SETTINGS, set_for_transaction
    from app.search.conditions import Terms
    from app.search.scoped import search_scope
    from app.search.service import ENTITIES, shared_statement
    from tests.support.users import user_actor

    entity = next(e for e in ENTITIES if e.table.name == "contacts")
    with app.test_request_context(), acting_as(user_actor(app, username)):
        try:
            terms, scope = Terms(query), search_scope("contacts")
            assert scope is not None
            compiled = shared_statement(entity, terms, scoped=True).compile(dialect=db.engine.dialect)
            set_for_transaction(db.session, INDEX_LOOKUP_SETTINGS)
            rows = db.session.connection().exec_driver_sql(
                "EXPLAIN " + str(compiled), {**compiled.params, **terms.params(), **scope}).fetchall()
            return "\n".join(row[0] for row in rows)
        finally:
            db.session.remove()


def test_a_reps_activities_search_finds_title_matches_before_long_texts_past_the_windows(world):
    """A rep's activities past the windows (PROBE_ROWS of theirs, none matching), more than the search keeps
    (CANDIDATES) holding two Chinese characters: the subjects' and descriptions' lookups are one scan within
    the rep's rows (app/search/service.py, `scoped_lookups`), which keeps the separate lookups' order: the
    subjects' matches, stored last, are all among the candidates, and the best ten are theirs."""
    from app.search.scoped import PROBE_ROWS
    from app.search.service import CANDIDATES

    add = ("INSERT INTO activities (customer_id, type, subject, description) "
           "SELECT :c, 'call', :subject || ' ' || g, :description FROM generate_series(1, :n) g")
    customer = world["records"]["a"]["customers"]
    with world["owner"].begin() as conn:
        conn.execute(text(add), {"c": customer, "subject": "Turnfiller", "description": None, "n": PROBE_ROWS + 10})
        conn.execute(text(add), {"c": customer, "subject": "Turnplain", "description": "在深圳开会", "n": CANDIDATES})
        conn.execute(text(add), {"c": customer, "subject": "Turntitle 深圳", "description": None, "n": 12})
        conn.execute(text("ANALYZE activities"))
    try:
        page = signed_in(world, "rep_a").get("/search/?q=深圳").get_data(as_text=True)
    finally:
        with world["owner"].begin() as conn:
            conn.execute(text("DELETE FROM activities WHERE subject LIKE 'Turn%'"))
    group = re.search(r'data-entity="activities".*?</ul>', page, re.S)
    assert group is not None, page
    hits = re.findall(r'class="list-group-item crm-search-hit">\s*<a [^>]*>(.*?)</a>', group[0], re.S)
    assert f'<span class="badge">{CANDIDATES}+</span>' in group[0], group[0]
    assert len(hits) == 10 and all("Turntitle" in hit for hit in hits), hits
