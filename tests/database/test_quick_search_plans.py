"""The lists' search box reads through the search indexes, never a sequential scan (app/search/quick.py)."""
from __future__ import annotations

import pytest


def _plan(app, model, query: str, columns: tuple[str, ...], exact: tuple[str, ...] = ()) -> str:
    from sqlalchemy import select

    from app.extensions import db
    from app.search.quick import quick_condition

    with app.app_context():
        pk = model.__mapper__.primary_key[0]
        statement = select(pk).where(quick_condition(model, query, columns, exact)).limit(1001)
        compiled = statement.compile(dialect=db.engine.dialect)
        with db.engine.connect() as conn:
            # as CrmInterface.search_matches looks matches up: an index must be able to serve it
            conn.exec_driver_sql("SET enable_seqscan = off")
            return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params))


@pytest.fixture
def rows(sql):
    sql("INSERT INTO customers (name, industry, location) "
        "SELECT 'Customer ' || i, 'Industry ' || (i % 20), '深圳 ' || i FROM generate_series(1, 2000) i")
    sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
        "SELECT (i % 2000) + 1, 'call', 'Subject ' || i || ' 合同续签', now() FROM generate_series(1, 4000) i")
    sql("ANALYZE customers")
    sql("ANALYZE activities")


@pytest.mark.parametrize("query,indexes", [
    ("acme ltd", ["ix_customers_name_trgm", "ix_customers_industry_trgm", "ix_customers_location_trgm"]),
    ("深圳", ["ix_customers_name_bigrams", "ix_customers_location_bigrams"]),
    ("co", ["ix_customers_name_words", "ix_customers_location_words"]),
    ("华", ["ix_customers_name_words"]),
])
def test_customers_search_uses_the_indexes(app, rows, query, indexes):
    from app.models import Customer

    plan = _plan(app, Customer, query, ("name", "industry", "location"))
    assert "Seq Scan" not in plan, plan
    for index in indexes:
        assert index in plan, plan


@pytest.mark.parametrize("query", ["renewal", "续签", "ab", "合同续签 renewal"])
def test_activities_search_uses_the_indexes(app, rows, query):
    from app.models import Activity

    plan = _plan(app, Activity, query, ("subject",))
    assert "Seq Scan" not in plan and "ix_activities_subject_" in plan, plan


def test_the_log_search_uses_its_own_indexes(app, rows):
    from app.models import Log

    plan = _plan(app, Log, "customers", (), ("action", "table_name"))  # LogView.quick_search_exact
    assert "Seq Scan" not in plan and "Index" in plan, plan
