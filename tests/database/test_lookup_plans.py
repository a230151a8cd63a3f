"""Issue #19 point 7: the related selects' lookups can be served by the existing indexes (no scan of the table)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.crud.lookups import LOOKUP_LIMIT, matching, narrowing
from app.lists.planner import INDEX_LOOKUP_SETTINGS, set_for_transaction


def plan(app, model, query: str, args: dict) -> str:
    """EXPLAIN of the lookup's statement, under the settings the lookup reads with."""
    from app.extensions import db

    with app.app_context():
        pk = db.inspect(model).primary_key[0]
        stmt = select(pk).where(*narrowing(model, args))
        stmt = stmt.where(matching(model, query)) if query else stmt.order_by(pk)
        compiled = stmt.limit(LOOKUP_LIMIT).compile(dialect=db.engine.dialect)
        connection = db.session.connection()
        set_for_transaction(db.session, INDEX_LOOKUP_SETTINGS)
        rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).fetchall()
        db.session.rollback()
        return "\n".join(row[0] for row in rows)


@pytest.fixture
def many_contacts(sql):
    sql("INSERT INTO customers (name) SELECT 'Customer ' || g FROM generate_series(1, 2000) g")
    sql("INSERT INTO contacts (customer_id, first_name, last_name) "
        "SELECT (SELECT min(customer_id) FROM customers) + g % 2000, 'First' || g, 'Last' || g "
        "FROM generate_series(1, 40000) g")
    sql("INSERT INTO contacts (customer_id, first_name, last_name) "
        "SELECT min(customer_id), '晓明', '王' FROM customers")
    sql("ANALYZE customers; ANALYZE contacts")


@pytest.mark.parametrize("query, args, index", [
    ("First123 Last123", {}, "ix_contacts_"),   # full name: trigram indexes of both columns
    ("王晓明", {}, "ix_contacts_last_name"),      # a Chinese name written together: the name indexes
    ("王", {}, "ix_contacts_"),                   # one character: the word index
    ("Li", {}, "ix_contacts_"),                  # two letters: the word index, never ILIKE
    ("", {"customer": "CUSTOMER"}, "ix_contacts_customer_id"),  # narrowed to a customer
    ("First1", {"customer": "CUSTOMER"}, "ix_contacts_customer_id"),
])
def test_lookups_use_the_indexes(app, sql, many_contacts, query, args, index):
    from app.models import Contact

    (customer,), = sql("SELECT min(customer_id) FROM customers")
    args = {k: str(customer) if v == "CUSTOMER" else v for k, v in args.items()}
    text = plan(app, Contact, query, args)
    assert index in text, text
    assert "Seq Scan on contacts" not in text, text
    if query:  # matches looked up in the indexes, not found by walking the primary key
        assert "pk_contacts" not in text, text
