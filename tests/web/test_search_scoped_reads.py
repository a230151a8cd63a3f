"""What the CRM-wide search reads for a user who sees some owners' rows, before and around the entities'
searches (app/search/scoped.py, app/search/service.py): the rep's customers' keys once, as the database
joins them, with whether an activity they see lacks a customer; a follower table's lookups in a statement of
their own, sent only when the windows of the rep's rows found too few; the same results."""
from __future__ import annotations

import os
import re
from typing import Iterator

import pytest
from sqlalchemy import event, text

from tests.support.apps import team_instance
from tests.support.client import login
from tests.support.users import ROLE_PASSWORD

USERS = {"rep_c": "Sales Rep", "rep_d": "Sales Rep", "rep_e": "Sales Rep"}
TEAMS = {"rep_c": "Team C", "rep_d": "Team D", "rep_e": "Team E"}
CUSTOMERS = {"rep_c": 3, "rep_d": 2, "rep_e": 1}
SETTINGS = "SELECT current_setting("  # app/lists/planner.py, set_for_transaction


@pytest.fixture(scope="module")
def world(pg) -> Iterator[dict]:
    """Each rep's customers, each with a contact and an activity, all named "Keyed <rep> ..."."""
    with team_instance(pg, f"crm_test_search_scoped_reads_{os.getpid()}", USERS, TEAMS) as (app, owner):
        with owner.begin() as conn:
            for rep, count in CUSTOMERS.items():
                customers = conn.scalars(text(
                    "INSERT INTO customers (name, owner_id) SELECT 'Keyed ' || :rep || ' customer ' || g, user_id "
                    "FROM users, generate_series(1, :n) g WHERE username = :rep RETURNING customer_id"),
                    {"rep": rep, "n": count}).all()
                for customer in customers:
                    contact = conn.scalar(text(
                        "INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'Keyed', :rep) "
                        "RETURNING contact_id"), {"c": customer, "rep": rep})
                    conn.execute(text("INSERT INTO activities (customer_id, contact_id, type, subject) "
                                      "VALUES (:c, :p, 'call', 'Keyed ' || :rep || ' call')"),
                                 {"c": customer, "p": contact, "rep": rep})
        yield {"app": app, "owner": owner, "clients": {}}


def signed_in(world: dict, username: str):
    clients = world["clients"]
    if username not in clients:
        clients[username] = world["app"].test_client()
        assert login(clients[username], username, ROLE_PASSWORD).status_code == 302
    return clients[username]


def searched(world: dict, username: str, query: str) -> tuple[str, list[tuple[str, object]]]:
    """The search page of `username` for `query`, and the statements sent for it (by every thread)."""
    from app.extensions import db

    with world["app"].app_context():
        engine = db.engine
    sent: list[tuple[str, object]] = []

    def seen(_conn, _cursor, statement, parameters, *_args) -> None:
        sent.append((" ".join(statement.split()), parameters))

    client = signed_in(world, username)
    client.get(f"/search/?q={query}")  # the session check learns what the page reads, if it did not yet
    event.listen(engine, "before_cursor_execute", seen)
    try:
        response = client.get(f"/search/?q={query}")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert response.status_code == 200
    return response.get_data(as_text=True), sent


def shown(page: str, kind: str) -> list[str]:
    """The titles of one entity's hits (the markup of the highlighting removed)."""
    group = re.search(rf'data-entity="{kind}".*?</ul>', page, re.S)
    hits = re.findall(r'class="list-group-item crm-search-hit">\s*<a [^>]*>(.*?)</a>', group[0], re.S) if group else []
    return sorted(re.sub(r"<[^>]+>", "", hit).strip() for hit in hits)


def customer_keys(world: dict, rep: str) -> str:
    with world["owner"].connect() as conn:
        keys = conn.scalars(text("SELECT customer_id FROM customers JOIN users ON user_id = owner_id "
                                 "WHERE username = :u ORDER BY customer_id"), {"u": rep}).all()
    return "{" + ",".join(map(str, keys)) + "}"


def test_a_reps_customers_keys_are_read_once_with_their_contactless_activities(world):
    """One statement reads the rep's customers' keys, joined by the database in array text form, and whether
    an activity they see lacks a customer (no statement of its own); both follower tables' searches bind
    those keys; the search's other thread does not set its settings back (its transaction ends)."""
    page, sent = searched(world, "rep_c", "Keyed")
    assert shown(page, "customers") == [f"Keyed rep_c customer {i}" for i in (1, 2, 3)]
    assert shown(page, "contacts") == ["Keyed rep_c"] * 3
    assert shown(page, "activities") == ["Keyed rep_c call"] * 3
    reads = [statement for statement, _ in sent if statement.startswith("SELECT") and "array_agg" in statement]
    assert len(reads) == 1 and "EXISTS" in reads[0], reads
    assert not [s for s, _ in sent if s.startswith("SELECT customers.customer_id") or s.startswith("SELECT EXISTS")]
    bound = [parameters["search_customers"] for _, parameters in sent
             if isinstance(parameters, dict) and "search_customers" in parameters]
    assert bound == [customer_keys(world, "rep_c")] * 2, bound  # contacts' and activities'
    # each thread sets the lookups' settings; only the request's own sets them back
    assert len([s for s, _ in sent if s.startswith(SETTINGS)]) == 3, [s for s, _ in sent]


def test_a_rep_with_more_customers_than_the_keys_bound_is_searched_as_the_admin(world, monkeypatch):
    """Above CUSTOMERS_MAX customers the follower tables are searched as the admin's are (no keys bound): the
    policies still show the rep only their rows."""
    from app.search import scoped

    monkeypatch.setattr(scoped, "CUSTOMERS_MAX", CUSTOMERS["rep_c"] - 1)
    page, sent = searched(world, "rep_c", "Keyed")
    assert shown(page, "contacts") == ["Keyed rep_c"] * 3
    assert shown(page, "activities") == ["Keyed rep_c call"] * 3
    assert not [p for _, p in sent if isinstance(p, dict) and "search_customers" in p]


def test_a_reps_activity_with_only_a_contact_is_found(world):
    """An activity the rep sees through its contact alone: activities are searched as the admin's (the
    customers' keys would leave it out), contacts still within the rep's customers."""
    with world["owner"].begin() as conn:
        conn.execute(text("INSERT INTO activities (contact_id, type, subject) SELECT contact_id, 'call', "
                          "'Keyed rep_d contact only' FROM contacts WHERE last_name = 'rep_d' LIMIT 1"))
    try:
        page, sent = searched(world, "rep_d", "Keyed")
    finally:
        with world["owner"].begin() as conn:
            conn.execute(text("DELETE FROM activities WHERE subject = 'Keyed rep_d contact only'"))
    assert shown(page, "activities") == sorted(["Keyed rep_d call"] * 2 + ["Keyed rep_d contact only"])
    assert shown(page, "contacts") == ["Keyed rep_d"] * 2
    bound = [p["search_customers"] for _, p in sent if isinstance(p, dict) and "search_customers" in p]
    assert bound == [customer_keys(world, "rep_d")], bound  # the contacts' only


def test_a_failure_reading_the_scopes_fails_the_search_and_ends_its_other_thread(world, monkeypatch):
    """The search's other thread waits for the scopes the request reads: when that fails, so does the request,
    and the thread ends rather than waiting on."""
    import threading

    from app.search import service

    def broken(*_args, **_kwargs):
        raise RuntimeError("no scope")

    monkeypatch.setattr(service, "search_scope", broken)
    client = signed_in(world, "rep_c")
    try:
        status = client.get("/search/?q=Keyed").status_code
    except RuntimeError as error:  # propagated by the test client
        status = 500 if str(error) == "no scope" else 0
    assert status == 500
    assert not [t for t in threading.enumerate() if t.name.startswith("search")]


LOOKUPS = "unnest(%(search_found)s"  # the second step's statement (app/search/scoped.py, own_indexed)


def both_forms(world: dict, username: str, query: str, table: str) -> tuple[tuple, tuple, list[tuple[str, dict]]]:
    """`table`'s search for `username` as the search runs it (search_entity: keys, scores, total), as one statement
    (own_then_indexed), and the statements search_entity sent, with their parameters."""
    from app.audit.context import acting_as
    from app.extensions import db
    from app.lists.planner import INDEX_LOOKUP_SETTINGS, set_for_transaction
    from app.search.conditions import Terms
    from app.search.scoped import search_scope
    from app.search.service import ENTITIES, search_entity, shared_statement
    from tests.support.users import user_actor

    entity = next(e for e in ENTITIES if e.table.name == table)
    sent: list[tuple[str, dict]] = []

    def seen(_conn, _cursor, statement, parameters, *_args) -> None:
        sent.append((" ".join(statement.split()), parameters))

    app = world["app"]
    with app.test_request_context(), acting_as(user_actor(app, username)):
        try:
            terms, scope = Terms(query), search_scope(table)
            assert scope is not None
            set_for_transaction(db.session, INDEX_LOOKUP_SETTINGS)
            event.listen(db.engine, "before_cursor_execute", seen)
            try:
                rows, total = search_entity(db.session, entity, terms, scope=scope)
            finally:
                event.remove(db.engine, "before_cursor_execute", seen)
            one = db.session.execute(shared_statement(entity, terms, scoped=True), {**terms.params(), **scope}).all()
            key = entity.pk.key
            return (([(getattr(r, key), s) for r, s in rows], total),
                    ([(getattr(r[0], key), r[1]) for r in one], one[0][2] if one else 0), sent)
        finally:
            db.session.remove()


def test_a_reps_lookups_are_sent_only_when_the_windows_of_their_rows_found_too_few(world):
    """A rep's activities past the first window (PROBE_ROWS), all matching one term: the windows fill the
    candidates (CANDIDATES, "100+") and the lookups' statement is not sent. A term in the first and the
    last of them: the windows found one, too few, and the lookups run in a second statement, given that
    key (not found twice). Both give what the one statement (windows, then lookups) gives; so does the page."""
    from app.search.scoped import PROBE_ROWS
    from app.search.service import CANDIDATES

    with world["owner"].begin() as conn:
        conn.execute(text(
            "INSERT INTO activities (customer_id, type, subject) SELECT customer_id, 'call', "
            "CASE WHEN g IN (1, :n) THEN 'Scarce visit ' || g ELSE 'Plentiful call ' || g END FROM customers, "
            "generate_series(1, :n) g WHERE owner_id = (SELECT user_id FROM users WHERE username = 'rep_e')"),
            {"n": PROBE_ROWS + 200})
    try:
        plenty, plenty_one, plenty_sent = both_forms(world, "rep_e", "Plentiful", "activities")
        scarce, scarce_one, scarce_sent = both_forms(world, "rep_e", "Scarce", "activities")
        contacts, contacts_one, contacts_sent = both_forms(world, "rep_e", "Keyed", "contacts")
        page, sent = searched(world, "rep_e", "Plentiful")
        scarce_page, scarce_page_sent = searched(world, "rep_e", "Scarce")
    finally:
        with world["owner"].begin() as conn:
            conn.execute(text("DELETE FROM activities WHERE subject LIKE 'Plentiful call %' "
                              "OR subject LIKE 'Scarce visit %'"))
    assert plenty == plenty_one and plenty[1] == CANDIDATES and len(plenty[0]) == 10
    assert len(plenty_sent) == 1 and not [s for s, _ in plenty_sent if LOOKUPS in s], plenty_sent
    assert scarce == scarce_one and len(scarce[0]) == 2 and scarce[1] == 2
    assert len(scarce_sent) == 2 and LOOKUPS in scarce_sent[1][0], scarce_sent
    assert len(scarce_sent[1][1]["search_found"]) == 1  # the first, in the first window
    # the rep's only contact: the windows read all of their rows, nothing for the lookups to add
    assert contacts == contacts_one and contacts[1] == 1 and len(contacts_sent) == 1, contacts_sent
    assert len(shown(page, "activities")) == 10 and '<span class="badge">100+</span>' in page
    assert not [s for s, _ in sent if LOOKUPS in s]
    assert shown(scarce_page, "activities") == [f"Scarce visit {g}" for g in (1, PROBE_ROWS + 200)]
    assert len([s for s, _ in scarce_page_sent if LOOKUPS in s]) == 1
