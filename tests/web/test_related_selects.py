"""Issue #19 point 7: related selects narrowed by the chosen customer, full names, telling options apart."""
from __future__ import annotations

import re

import pytest


@pytest.fixture
def people(sql) -> dict[str, int]:
    ids = {}
    for name, location, industry in (("Acme", "Shanghai", "Retail"), ("Globex", None, "Energy")):
        (ids[name],), = sql("INSERT INTO customers (name, location, industry) VALUES (:n, :l, :i) "
                            "RETURNING customer_id", n=name, l=location, i=industry)
    for customer, first, last in (("Acme", "John", "Brown"), ("Globex", "John", "Brown"),
                                  ("Acme", "晓明", "王"), ("Globex", "Mary", "Smith")):
        (ids[f"{first} {last} @ {customer}"],), = sql(
            "INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, :f, :l) RETURNING contact_id",
            c=ids[customer], f=first, l=last)
    (ids["deal"],), = sql("INSERT INTO opportunities (customer_id, name, stage) VALUES (:c, 'Renewal', 'proposal') "
                          "RETURNING opportunity_id", c=ids["Acme"])
    return ids


def options(client, url: str) -> list[tuple[int, str]]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [(r["id"], r["text"]) for r in response.get_json()["results"]]


@pytest.mark.parametrize("query", ["John Brown", "Brown John", "john brown", "brown"])
def test_a_full_name_finds_the_person_in_either_order(admin, people, query):
    found = options(admin, f"/contacts/lookup/?q={query}")
    assert sorted(found) == sorted([(people["John Brown @ Acme"], "John Brown – Acme"),
                                    (people["John Brown @ Globex"], "John Brown – Globex")])


@pytest.mark.parametrize("query", ["王晓明", "王 晓明", "晓明 王"])
def test_a_chinese_name_written_together_or_apart_is_found(admin, people, query):
    found = options(admin, f"/contacts/lookup/?q={query}")
    assert [key for key, _text in found] == [people["晓明 王 @ Acme"]]
    assert found[0][1] == "王晓明 – Acme"


def test_contacts_are_narrowed_to_the_chosen_customer(admin, people):
    found = options(admin, f"/contacts/lookup/?q=John&customer={people['Globex']}")
    assert found == [(people["John Brown @ Globex"], "John Brown – Globex")]
    everyone = options(admin, f"/contacts/lookup/?customer={people['Acme']}")
    assert {key for key, _ in everyone} == {people["John Brown @ Acme"], people["晓明 王 @ Acme"]}
    assert options(admin, "/contacts/lookup/?customer=not-a-number&q=Mary") == [
        (people["Mary Smith @ Globex"], "Mary Smith – Globex")]


def test_options_say_what_tells_them_apart(admin, people, client):
    assert options(admin, "/opportunities/lookup/?q=Renew") == [(people["deal"], "Renewal – Acme – Proposal")]
    assert dict(options(admin, "/customers/lookup/?q=")) | {} == {
        **dict(options(admin, "/customers/lookup/?q=")), people["Acme"]: "Acme – Shanghai",
        people["Globex"]: "Globex – Energy"}


def test_the_activity_form_narrows_its_contact_by_its_customer(admin, people):
    page = admin.get("/activities/add").get_data(as_text=True)
    contact = re.search(r'<select id="contact"[^>]*>', page).group(0)
    assert 'data-narrow="customer"' in contact and 'data-endpoint="/contacts/lookup/"' in contact
    customer = re.search(r'<select id="customer"[^>]*>', page).group(0)
    assert 'data-narrow=""' in customer


def _activity_form(people, contact: str, customer: str | None = "Acme") -> dict[str, str]:
    return {"customer": str(people[customer]) if customer else "", "contact": str(people[contact]),
            "type": "call", "subject": "Checked on the server", "activity_date": "2026-12-01 10:00:00"}


def _activities(sql) -> int:
    return sql("SELECT count(*) FROM activities WHERE subject = 'Checked on the server'")[0][0]


def test_the_form_refuses_a_contact_of_another_customer(admin, people, sql):
    from tests.support.client import post_form, switch_language

    response = post_form(admin, "/activities/add", _activity_form(people, "John Brown @ Globex"))
    assert response.status_code == 200 and _activities(sql) == 0  # the form again, nothing stored
    assert "The contact “John Brown” does not belong to the chosen customer “Acme”." in response.get_data(as_text=True)
    switch_language(admin, "zh")
    response = post_form(admin, "/activities/add", _activity_form(people, "John Brown @ Globex"))
    # family name first in Chinese
    assert "联系人“Brown John”不属于所选客户“Acme”。" in response.get_data(as_text=True) and _activities(sql) == 0
    # the customer's own contact, or a contact without a customer chosen, is saved
    assert post_form(admin, "/activities/add", _activity_form(people, "John Brown @ Acme")).status_code == 302
    assert post_form(admin, "/activities/add", _activity_form(people, "Mary Smith @ Globex", None)).status_code == 302
    assert _activities(sql) == 2


def test_editing_to_another_customer_keeps_the_rule(admin, people, sql):
    from tests.support.client import post_form
    from tests.support.htmlforms import form_fields

    (pk,), = sql("INSERT INTO activities (customer_id, contact_id, type, subject, activity_date) "
                 "VALUES (:c, :p, 'call', 'Edited', now()) RETURNING activity_id",
                 c=people["Acme"], p=people["John Brown @ Acme"])
    fields = form_fields(admin.get(f"/activities/edit/{pk}").get_data(as_text=True))
    response = post_form(admin, f"/activities/edit/{pk}", {**fields, "customer": str(people["Globex"])})
    assert response.status_code == 200
    assert "does not belong to the chosen customer “Globex”" in response.get_data(as_text=True)
    assert sql("SELECT customer_id FROM activities WHERE activity_id = :a", a=pk)[0][0] == people["Acme"]


def test_the_api_refuses_a_contact_of_another_customer(client, token, people, sql):
    body = {"customer": people["Acme"], "contact": people["Mary Smith @ Globex"], "type": "call",
            "subject": "Checked on the server", "activity_date": "2026-12-01T10:00:00Z"}
    response = client.post("/api/v1/activities/", json=body, headers=token)
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.get_json()["errors"]
    assert errors == {"contact": ["The contact “Mary Smith” does not belong to the chosen customer “Acme”."]}
    zh = client.post("/api/v1/activities/?_l_=zh", json=body, headers=token)
    assert zh.status_code == 422 and zh.get_json()["errors"]["contact"] == ["联系人“Smith Mary”不属于所选客户“Acme”。"]
    assert _activities(sql) == 0
    created = client.post("/api/v1/activities/", json={**body, "contact": people["John Brown @ Acme"]}, headers=token)
    assert created.status_code == 201, created.get_data(as_text=True)
    pk = created.get_json()["id"]
    # PUT is partial: a new customer alone is checked against the stored contact, a new contact against the
    # stored customer
    for change in ({"customer": people["Globex"]}, {"contact": people["Mary Smith @ Globex"]}):
        response = client.put(f"/api/v1/activities/{pk}", json=change, headers=token)
        assert response.status_code == 422 and list(response.get_json()["errors"]) == ["contact"], change
    assert sql("SELECT customer_id, contact_id FROM activities WHERE activity_id = :a", a=pk) == [
        (people["Acme"], people["John Brown @ Acme"])]
    both = {"customer": people["Globex"], "contact": people["Mary Smith @ Globex"]}
    assert client.put(f"/api/v1/activities/{pk}", json=both, headers=token).status_code == 200
    assert client.put(f"/api/v1/activities/{pk}", json={"customer": None}, headers=token).status_code == 200


def test_a_lookup_the_database_stops_answers_503_not_500(admin, people, monkeypatch):
    """A related select's search that the statement timeout stops says so (503), as every stopped statement does.

    Its index-lookup settings are put back only after a statement that ran: putting them back in a
    `finally` raised "current transaction is aborted" instead of the timeout, and that was a 500.
    """
    from sqlalchemy import func

    import app.crud.lookups as lookups
    monkeypatch.setattr(lookups, "INDEX_LOOKUP_SETTINGS", {**lookups.INDEX_LOOKUP_SETTINGS, "statement_timeout": "50"})
    slow = lookups.matching
    monkeypatch.setattr(lookups, "matching", lambda model, query: slow(model, query) & (func.pg_sleep(1).is_not(None)))
    response = admin.get("/contacts/lookup/?q=John")
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    monkeypatch.undo()
    assert len(options(admin, "/contacts/lookup/?q=John")) == 2  # the next request is served as before
