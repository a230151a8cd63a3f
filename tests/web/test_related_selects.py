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
