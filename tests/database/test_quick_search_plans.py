"""The lists' search box reads through the search indexes, never a sequential scan (app/search/quick.py)."""
from __future__ import annotations

import re

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


def _matches_plan(app, model, query: str, *conditions) -> str:
    """The plan of the statement a searched list reads its capped matches with (app/lists/matches.py)."""
    from sqlalchemy import and_

    from app.extensions import db
    from app.lists.matches import matches_statement
    from app.lists.planner import INDEX_LOOKUP_SETTINGS
    from app.search.quick import quick_condition

    with app.app_context():
        columns = {"customers": ("name", "industry", "location"), "activities": ("subject",)}[model.__tablename__]
        where = and_(quick_condition(model, query, columns), *conditions)
        compiled = matches_statement(model.__table__, where, 1000, 2000).compile(dialect=db.engine.dialect)
        with db.engine.connect() as conn:
            for name, value in INDEX_LOOKUP_SETTINGS.items():  # as capped_matches runs it
                conn.exec_driver_sql(f"SET {name} = '{value}'")
            return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params))


@pytest.mark.parametrize("query", ["acme ltd", "深圳", "co", "华", "科技 深圳"])
def test_a_searched_lists_capped_matches_are_read_through_indexes(app, rows, query):
    from app.models import Customer

    plan = _matches_plan(app, Customer, query)
    assert "Seq Scan" not in plan, plan
    # the newest rows, by key (the primary key, or 0034's unique key index that carries the owner)
    assert re.search(r"Index Scan Backward using (pk_customers|ix_customers_customer_id_owner_id)", plan), plan
    assert "Bitmap Index Scan on ix_customers_" in plan, plan  # then the search indexes
    # rows are checked without recomputing the indexed expressions (word vectors, CJK bigrams); of
    # two words, the one whose index the planner leaves out is computed for the matches only
    filters = [line for line in plan.splitlines() if "Filter:" in line]
    if " " not in query:
        assert not any("crm_cjk_bigrams" in f or "crm_search_vector" in f for f in filters), plan


def test_capped_matches_with_a_filter_and_on_activities(app, rows):
    from app.models import Activity, Customer

    plan = _matches_plan(app, Customer, "深圳", Customer.industry == "Industry 3")
    # the filter's own index or the search's: whichever the planner deems narrower
    assert "Seq Scan" not in plan and ("ix_customers_location_bigrams" in plan or "ix_customers_industry" in plan), plan
    plan = _matches_plan(app, Activity, "renewal", Activity.customer_id == 5)
    assert "Seq Scan" not in plan and "pk_activities" in plan, plan


def test_a_searched_lists_page_is_read_by_its_keys(app, rows):
    """The page among a search's matches (CrmInterface.by_matches) is read through an index, never a scan.

    At scale 1 each match is read by its key, then sorted; a table this small may walk the sort index."""
    from sqlalchemy import Integer, bindparam, func, select
    from sqlalchemy.dialects.postgresql import ARRAY

    from app.extensions import db
    from app.models import Activity, Customer

    with app.app_context():
        for model, sort in ((Customer, Customer.name), (Activity, Activity.activity_date.desc())):
            pk = model.__mapper__.primary_key[0]
            keys = bindparam("keys", list(range(1, 1001)), type_=ARRAY(Integer))
            statement = (select(pk).where(pk.in_(select(func.unnest(keys)))).order_by(sort, pk).limit(26))
            compiled = statement.compile(dialect=db.engine.dialect)
            with db.engine.connect() as conn:
                conn.exec_driver_sql("SET enable_seqscan = off")
                plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params))
            assert "Seq Scan" not in plan, plan
            assert f"pk_{model.__tablename__}" in plan or f"ix_{model.__tablename__}_" in plan, plan


@pytest.fixture
def typed_activities(sql):
    """6,000 emails (a third about a renewal) among the fixture's calls, and a few renewal meetings."""
    sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
        "SELECT (i % 2000) + 1, 'email', CASE WHEN i % 3 = 0 THEN 'Renewal ' || i ELSE 'Mail ' || i END, now() "
        "FROM generate_series(1, 6000) i")
    sql("INSERT INTO activities (customer_id, type, subject, activity_date) "
        "SELECT i, 'meeting', 'renewal talk ' || i, now() FROM generate_series(1, 40) i")
    sql("ANALYZE activities")


def test_a_search_filtered_by_type_reads_that_types_newest_rows(app, rows, typed_activities):
    from app.models import Activity

    plan = _matches_plan(app, Activity, "renewal", Activity.type == "email")
    # the windows: the newest emails through (type, key), not the newest activities of every type
    assert "Index Scan Backward using ix_activities_type_sort" in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.parametrize("kind,expected", [("email", 1001), ("meeting", 40), ("task", 0)])
def test_a_search_filtered_by_type_finds_the_newest_matches(app, rows, typed_activities, sql, kind, expected):
    from sqlalchemy import and_

    from app.extensions import db
    from app.lists.matches import capped_matches
    from app.models import Activity
    from app.search.quick import quick_condition
    from tests.support.users import as_admin

    where = and_(quick_condition(Activity, "renewal", ("subject",)), Activity.type == kind)
    with as_admin(app):
        # a large table's estimate: 2,000 emails hold 667 renewals, so the wider window is read too
        found, carried = capped_matches(db.session, Activity.__table__, where, 1000, lambda: 10_000_000)
        # with the order column: the same keys, each with its row's value
        dated, with_dates = capped_matches(db.session, Activity.__table__, where, 1000, lambda: 10_000_000,
                                           Activity.__table__.c.activity_date)
        db.session.remove()
    dates = dict(sql("SELECT activity_id, activity_date FROM activities WHERE type = :t", t=kind))
    assert carried is None and dated == found and with_dates == [(key, dates[key]) for key in found]
    newest = [k for (k,) in sql("SELECT activity_id FROM activities WHERE type = :t AND subject ILIKE '%renewal%' "
                                "ORDER BY activity_id DESC LIMIT 1001", t=kind)]
    assert len(found) == expected
    assert found == newest if kind == "email" else sorted(found) == sorted(newest)


def test_the_windows_stream_their_matches_up_to_the_cap(app, rows, typed_activities):
    """The windows' matches are taken in the windows' own order, not sorted again: the cap's LIMIT stops
    reading the wider window at the match that fills it (app/lists/matches.py, `newest_then_indexed`)."""
    from sqlalchemy import and_

    from app.extensions import db
    from app.lists.matches import matches_statement
    from app.lists.planner import INDEX_LOOKUP_SETTINGS, set_for_transaction
    from app.models import Activity
    from app.search.quick import quick_condition
    from tests.support.users import as_admin

    where = and_(quick_condition(Activity, "renewal", ("subject",)), Activity.type == "email")
    with as_admin(app):
        # a large table's estimate: the probe's 667 renewals among 2,000 emails widen to the next 1,251 rows
        compiled = matches_statement(Activity.__table__, where, 1000, 10_000_000).compile(dialect=db.engine.dialect)
        set_for_transaction(db.session, INDEX_LOOKUP_SETTINGS)  # as capped_matches runs it
        plan = "\n".join(r[0] for r in db.session.connection().exec_driver_sql(
            f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}", compiled.params))
        db.session.remove()
    assert not re.search(r"Sort Key: (newest|wider)\.", plan), plan  # the windows' matches, not sorted again
    wider = re.findall(r"Index Scan Backward using ix_activities_type_sort on activities \S+ \(actual .*rows=([\d.]+)",
                       plan)
    # the 334 renewals the cap still wants are every third email: about 1,002 rows, not the window's 1,251
    assert len(wider) == 1 and 1000 <= float(wider[0]) < 1100, plan
