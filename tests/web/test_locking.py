"""Two people edit the same record: the second, stale save is refused, not silently applied."""
from __future__ import annotations

import pytest

from tests.support.client import login
from tests.support.htmlforms import form_fields


def test_stale_edit_form_is_refused(app, sql):
    (cid,), = sql("INSERT INTO customers (name, industry) VALUES ('Original', 'Retail') RETURNING customer_id")
    alice, bob = app.test_client(), app.test_client()
    login(alice), login(bob)
    alice_form = form_fields(alice.get(f"/customers/edit/{cid}").get_data(as_text=True))
    bob_form = form_fields(bob.get(f"/customers/edit/{cid}").get_data(as_text=True))
    assert alice_form["version"] == bob_form["version"] == "1"

    alice_form["name"] = "Alice's name"
    assert alice.post(f"/customers/edit/{cid}", data=alice_form).status_code == 302

    bob_form["industry"] = "Finance"
    response = bob.post(f"/customers/edit/{cid}", data=bob_form)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Someone else saved this record" in page
    (name, industry, version), = sql("SELECT name, industry, version FROM customers WHERE customer_id = :c", c=cid)
    assert (name, industry, version) == ("Alice's name", "Retail", 2)

    fresh = form_fields(bob.get(f"/customers/edit/{cid}").get_data(as_text=True))
    fresh["industry"] = "Finance"
    assert bob.post(f"/customers/edit/{cid}", data=fresh).status_code == 302
    assert sql("SELECT industry FROM customers WHERE customer_id = :c", c=cid)[0][0] == "Finance"


def test_plain_sql_update_also_makes_open_forms_stale(admin, sql):
    (cid,), = sql("INSERT INTO customers (name) VALUES ('Before') RETURNING customer_id")
    form = form_fields(admin.get(f"/customers/edit/{cid}").get_data(as_text=True))
    sql("UPDATE customers SET name = 'Changed in psql' WHERE customer_id = :c", c=cid)
    form["location"] = "Shanghai"
    response = admin.post(f"/customers/edit/{cid}", data=form)
    assert response.status_code == 200 and "Someone else saved" in response.get_data(as_text=True)
    assert sql("SELECT name, location FROM customers WHERE customer_id = :c", c=cid)[0] == ("Changed in psql", None)


def test_concurrent_write_between_check_and_update_is_refused(app, sql):
    """The version check is also in the UPDATE's WHERE clause (SQLAlchemy version_id_col)."""
    from sqlalchemy.orm.exc import StaleDataError

    from app.extensions import db
    from app.models import Customer
    from tests.support.users import as_admin

    (cid,), = sql("INSERT INTO customers (name) VALUES ('Race') RETURNING customer_id")
    # as the admin, who sees the record: the refusal is the version check, not row-level security
    with as_admin(app):
        customer = db.session.get(Customer, cid)
        sql("UPDATE customers SET name = 'Won the race' WHERE customer_id = :c", c=cid)
        customer.name = "Lost the race"
        with pytest.raises(StaleDataError):
            db.session.commit()
        db.session.rollback()
    assert sql("SELECT name FROM customers WHERE customer_id = :c", c=cid)[0][0] == "Won the race"
