"""Lead conversion over HTTP: one lead or many, in one transaction, never twice, permission- and CSRF-checked."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tests.support.client import csrf_token, login
from tests.support.htmlforms import form_fields
from tests.support.screens import parents
from tests.support.users import ROLE_PASSWORD, as_admin, make_role_user, sql_as

WATCHED = ("customers", "contacts", "opportunities", "leads")


def state(sql) -> tuple:
    """Every row of the tables a conversion writes: proves that nothing was half-written."""
    return tuple(sql(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {t} t")[0][0]
                 for t in WATCHED)


def a_lead(sql, contact: str | None, source: str = "Trade show 展会") -> int:
    return sql("INSERT INTO leads (source, contact_id) VALUES (:s, :c) RETURNING lead_id", s=source,
               c=int(contact) if contact else None)[0][0]


def convert_form(client, lead: int, **changes) -> tuple[dict, int]:
    page = client.get(f"/leads/convert/{lead}")
    assert page.status_code == 200, page.status_code
    fields = form_fields(page.get_data(as_text=True).replace('id="convert-form"', 'id="model_form"'))
    fields.update(changes)
    return fields, page.status_code


def test_convert_to_the_contacts_customer(admin, sql, app):
    ids = parents(sql)
    lead = a_lead(sql, ids["contact"])
    fields, _ = convert_form(admin, lead)
    assert fields["customer"] == ids["customer"]  # preselected: the contact's customer
    assert fields["customer_mode"] == "existing" and fields["contact_mode"] == "lead"
    fields.update(opportunity_name="Pilot 试点", stage="proposal", value="125000.50", close_date="2027-01-31")
    response = admin.post(f"/leads/convert/{lead}", data=fields)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/customers/show/{ids['customer']}")
    (opp, customer, contact, status, by), = sql(
        "SELECT converted_opportunity_id, converted_customer_id, contact_id, status, u.username "
        "FROM leads JOIN users u ON u.user_id = converted_by WHERE lead_id = :l", l=lead)
    assert (customer, contact, status, by) == (int(ids["customer"]), int(ids["contact"]), "converted", "admin")
    assert sql("SELECT customer_id, name, stage, close_date::text, value_band FROM opportunities "
               "WHERE opportunity_id = :o", o=opp) == [(int(ids["customer"]), "Pilot 试点", "proposal", "2027-01-31", 3)]

    with as_admin(app):  # row-level security: a user sees the deal
        from app.extensions import db
        from app.models import Opportunity

        assert str(db.session.get(Opportunity, opp).value) == "125000.50"
    show = admin.get(f"/leads/show/{lead}").get_data(as_text=True)
    assert "Pilot 试点" in show and "Parent 父公司" in show and "Convert to customer" not in show


def test_convert_into_new_customer_and_new_contact(admin, sql):
    lead = a_lead(sql, None, "Website")
    fields, _ = convert_form(admin, lead)
    assert fields["customer_mode"] == "new" and fields["contact_mode"] == "new"
    fields.update(customer_name="新客户 New Co", customer_industry="Retail", first_name="Ada",
                  last_name="Lovelace", email="ada@newco.example")
    assert admin.post(f"/leads/convert/{lead}", data=fields).status_code == 302
    (name, industry, first, email, opp_name), = sql(
        "SELECT cu.name, cu.industry, co.first_name, co.email, o.name FROM leads l "
        "JOIN customers cu ON cu.customer_id = l.converted_customer_id JOIN contacts co ON co.contact_id = l.contact_id "
        "JOIN opportunities o ON o.opportunity_id = l.converted_opportunity_id AND o.customer_id = cu.customer_id "
        "WHERE l.lead_id = :l AND co.customer_id = cu.customer_id", l=lead)
    assert (name, industry, first, email, opp_name) == ("新客户 New Co", "Retail", "Ada", "ada@newco.example",
                                                        "新客户 New Co: Website")


def test_second_conversion_is_refused_and_writes_nothing(admin, sql):
    ids = parents(sql)
    lead = a_lead(sql, ids["contact"])
    fields, _ = convert_form(admin, lead)
    assert admin.post(f"/leads/convert/{lead}", data=fields).status_code == 302
    before = state(sql)
    again = admin.post(f"/leads/convert/{lead}", data=fields)  # e.g. the form submitted twice
    assert again.status_code == 409
    assert "cannot be converted twice" in again.get_data(as_text=True)
    assert state(sql) == before
    page = admin.get(f"/leads/convert/{lead}", follow_redirects=True)
    assert "cannot be converted twice" in page.get_data(as_text=True)
    assert sql("SELECT count(*) FROM opportunities")[0][0] == 1


def test_lead_marked_converted_by_hand_is_refused(admin, sql):
    ids = parents(sql)
    lead = sql("INSERT INTO leads (contact_id, status) VALUES (:c, 'converted') RETURNING lead_id",
               c=int(ids["contact"]))[0][0]
    assert "already marked converted" in admin.get(f"/leads/convert/{lead}", follow_redirects=True).get_data(as_text=True)


@pytest.mark.parametrize("changes, status, message", [
    ({"customer_mode": "new", "customer_name": ""}, 400, "This field is required"),
    ({"contact_mode": "new", "first_name": "Only"}, 400, "This field is required"),
    ({"value": "lots"}, 400, "Enter an amount such as 12,500,000"),
    ({"value": "-5"}, 400, "Enter a number between"),
    ({"stage": "dreaming"}, 400, "Not a valid choice"),
    ({"close_date": "2027-02-30"}, 400, "Not a valid date value"),
    ({"customer": "99999999"}, 400, "does not exist"),
    ({"contact_mode": "new", "first_name": "A", "last_name": "B", "email": "not-an-email"}, 400, "Not a valid email"),
    # the lead's own contact cannot move to a new customer: refused after the customer was built, rolled back
    ({"customer_mode": "new", "customer_name": "Elsewhere Ltd"}, 409, "belongs to"),
    ({"version": "99"}, 409, "Someone else changed lead"),
])
def test_bad_input_is_a_clear_4xx_and_nothing_is_written(admin, sql, changes, status, message):
    ids = parents(sql)
    lead = a_lead(sql, ids["contact"])
    fields, _ = convert_form(admin, lead, **changes)
    before = state(sql)
    response = admin.post(f"/leads/convert/{lead}", data=fields)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert state(sql) == before


def test_csrf_and_unknown_lead(admin, sql):
    ids = parents(sql)
    lead = a_lead(sql, ids["contact"])
    fields, _ = convert_form(admin, lead)
    before = state(sql)
    assert admin.post(f"/leads/convert/{lead}", data={k: v for k, v in fields.items() if k != "csrf_token"}
                      ).status_code == 400
    assert admin.get("/leads/convert/999999").status_code == 404
    assert admin.get("/leads/convert/abc").status_code == 404
    assert state(sql) == before


@pytest.mark.parametrize("role, allowed", [("Sales Rep", True), ("Sales Manager", True),
                                           ("Support Agent", False), ("Auditor", False)])
def test_permission_can_convert(app, sql, role, allowed):
    username = make_role_user(app, role)
    mine = sql_as(app, username)  # the user's own records: row-level security shows a rep only these
    ids = parents(mine)
    lead = a_lead(mine, ids["contact"])
    client = app.test_client()
    login(client, username, ROLE_PASSWORD)
    token = csrf_token(client, "/")
    before = state(sql)
    page = client.get(f"/leads/convert/{lead}")
    bulk = client.post("/leads/action_post", data={"action": "convert_selected", "rowid": [str(lead)],
                                                    "csrf_token": token})
    if allowed:
        assert page.status_code == 200
        assert sql("SELECT status FROM leads WHERE lead_id = :l", l=lead) == [("converted",)]
    else:
        assert page.status_code in (302, 403) and "/login" in page.headers.get("Location", "/login")
        assert bulk.status_code == 302
        assert state(sql) == before


def test_bulk_conversion_converts_all_or_none(admin, sql):
    ids = parents(sql)
    first, second = a_lead(sql, ids["contact"], "Referral"), a_lead(sql, ids["contact"], "Partner")
    no_contact = a_lead(sql, None)
    token = csrf_token(admin, "/leads/list/")

    def bulk(*leads):
        return admin.post("/leads/action_post", data={"action": "convert_selected",
                                                      "rowid": [str(x) for x in leads], "csrf_token": token},
                          follow_redirects=True).get_data(as_text=True)

    page = bulk(first, second)
    assert "2 lead(s) converted" in page
    assert sql("SELECT l.lead_id, o.name, o.customer_id FROM leads l JOIN opportunities o "
               "ON o.opportunity_id = l.converted_opportunity_id ORDER BY l.lead_id") == [
        (first, "Parent 父公司: Referral", int(ids["customer"])), (second, "Parent 父公司: Partner", int(ids["customer"]))]
    third = a_lead(sql, ids["contact"], "Fair")
    before = state(sql)
    page = bulk(third, first, no_contact)
    assert "Nothing was converted" in page and f"#{first} is already converted" in page
    assert f"#{no_contact} has no contact" in page
    assert state(sql) == before


def test_concurrent_conversion_waits_for_the_lock_then_is_refused(admin, sql, pg, database):
    """Someone else converts the lead while our request runs: the row lock serialises, ours is refused."""
    ids = parents(sql)
    lead = a_lead(sql, ids["contact"])
    opp = sql("INSERT INTO opportunities (customer_id, name) VALUES (:c, 'Theirs') RETURNING opportunity_id",
              c=int(ids["customer"]))[0][0]
    fields, _ = convert_form(admin, lead)
    other = psycopg.connect(pg.libpq(database.rsplit("/", 1)[1].split("?")[0]))
    other.execute("UPDATE leads SET status = 'converted', converted_at = now(), converted_customer_id = %s, "
                  "converted_opportunity_id = %s WHERE lead_id = %s", (int(ids["customer"]), opp, lead))
    result = {}
    worker = threading.Thread(target=lambda: result.update(r=admin.post(f"/leads/convert/{lead}", data=fields)))
    worker.start()
    time.sleep(1.0)
    assert worker.is_alive()  # waiting on the row lock held by the other transaction
    other.commit()
    other.close()
    worker.join(30)
    assert result["r"].status_code == 409
    assert sql("SELECT count(*) FROM opportunities")[0][0] == 1
    assert sql("SELECT converted_opportunity_id FROM leads WHERE lead_id = :l", l=lead) == [(opp,)]


def test_upgraded_install_gives_default_roles_the_new_permission_once(app, sql):
    """An install from before conversion existed: its Sales Rep gains can_convert at the next start-up sync;
    when an admin revokes it afterwards, the sync does not give it back."""
    from app.security.default_roles import sync_default_roles
    from app.extensions import db

    grant = ("SELECT count(*) FROM role_permissions rp JOIN roles r USING (role_id) JOIN permissions p "
             "USING (permission_id) WHERE r.role_name = 'Sales Rep' AND p.permission_name = 'can_convert on LeadView'")
    revoke = ("DELETE FROM role_permissions WHERE role_id = (SELECT role_id FROM roles WHERE role_name = 'Sales Rep') "
              "AND permission_id = (SELECT permission_id FROM permissions WHERE permission_name = 'can_convert on LeadView')")

    def sync():
        with app.app_context():
            sync_default_roles(app.appbuilder)
            db.session.remove()

    sql(revoke)
    sql("DELETE FROM security_synced_permissions WHERE name = 'can_convert on LeadView'")  # never seen before
    sync()
    assert sql(grant) == [(1,)]
    sql(revoke)  # an admin's decision
    sync()
    assert sql(grant) == [(0,)]
