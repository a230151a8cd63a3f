"""Equalities on a text column with a trigram index and a B-tree: read through the B-tree where no order is asked
(app/search/equalities.py), with the same rows as `=`."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.support.users import act_as

TRIGRAM = "ix_customers_industry_trgm"


@pytest.fixture
def customers(sql, owner_sql):
    """12,000 customers of 8 industries (a common value: 1,500 rows each); a tenth of them 科技 by name and a
    fifth in 深圳, so the two words' bigram indexes and the industry's are each worth a lookup."""
    sql("INSERT INTO customers (name, industry, location) "
        "SELECT CASE WHEN i % 10 = 0 THEN '华为科技 ' ELSE 'Customer ' END || i, "
        "(ARRAY['Finance', 'Technology', 'Retail', 'Logistics', 'Healthcare', 'Education', 'Energy', "
        "'Manufacturing'])[i % 8 + 1], CASE WHEN i % 5 = 0 THEN '深圳' ELSE 'Beijing' END "
        "FROM generate_series(1, 12000) i")
    owner_sql("ANALYZE customers")  # the table's owner: the runtime role may not


@pytest.fixture
def owner(pg, database):
    """The tables' owner's engine: it may drop an index for a transaction."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    engine = create_engine(pg.url(make_url(database).database))
    yield engine
    engine.dispose()


def _explain(owner, statement: str, params, settings: dict[str, str], without: str = "") -> str:
    """EXPLAIN of a statement the app sent (psycopg's form) with `settings` in force; `without`: with that index
    dropped for the transaction (rolled back), to see whether another one can serve the statement."""
    with owner.connect() as conn, conn.begin() as transaction:
        if without:
            conn.exec_driver_sql(f"DROP INDEX {without}")
        for name, value in settings.items():
            conn.exec_driver_sql(f"SET LOCAL {name} = '{value}'")
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, params))
        transaction.rollback()
    return plan


def test_a_filtered_lists_count_reads_an_equality_through_the_btree(app, admin, customers, owner):
    """The capped count of `industry = 'Finance'`: the (industry, key) B-tree, never the trigram index, which
    built the bitmap of every row of the value (119,076 customers at scale 1: 30-50 ms, the B-tree's ~5 ms)."""
    from app.extensions import db

    sent: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, *args):
        sent.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    url = "/customers/list/?_flt_4_industry=Finance"  # FilterEqual, the fifth of a text column's filters
    admin.get(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = admin.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert page.status_code == 200 and "Record Count:</strong> 1500" in page.text
    (statement, params), = [(s, p) for s, p in sent if "count(" in s.lower() and "FROM customers" in s]
    plan = _explain(owner, statement, params, {"enable_seqscan": "off"})  # an index, whichever serves it
    assert TRIGRAM not in plan and "ix_customers_industry_sort" in plan, plan
    # the trigram index cannot serve it: without the B-tree, no index can (at 12,000 rows the planner
    # prefers the B-tree anyway; at a million it preferred the trigram index for `=`)
    plan = _explain(owner, statement, params, {"enable_seqscan": "off"}, without="ix_customers_industry_sort")
    assert TRIGRAM not in plan, plan


def test_a_searched_lists_lookups_read_a_labels_values_through_the_btree(app, customers, owner):
    """customers ?q=科技 深圳, 科技 also the label of an industry: the lookups read that industry through the
    B-tree, and the rows they find are not checked by computing their names' bigrams again."""
    from sqlalchemy import and_

    from app.extensions import db
    from app.lists.matches import matches_statement
    from app.lists.planner import INDEX_LOOKUP_SETTINGS
    from app.models import Customer
    from app.search.quick import quick_condition

    labels = {"industry": {"Technology": "科技", "Finance": "金融"}}
    with app.app_context():
        where = and_(quick_condition(Customer, "科技 深圳", ("name", "location"), labels=labels))
        compiled = matches_statement(Customer.__table__, where, 100, 1_000_000).compile(
            dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})  # the labels' IN list
        statement, params = str(compiled), compiled.params
    plan = _explain(owner, statement, params, INDEX_LOOKUP_SETTINGS)  # as capped_matches reads it
    assert TRIGRAM not in plan and "Bitmap Index Scan on ix_customers_industry_sort" in plan, plan
    lookup = plan[plan.index("Bitmap Heap Scan on customers"):]
    filters = [line for line in lookup.splitlines() if "Filter:" in line]
    assert filters and not any("crm_cjk_bigrams" in f for f in filters), plan
    plan = _explain(owner, statement, params, INDEX_LOOKUP_SETTINGS, without="ix_customers_industry_sort")
    assert TRIGRAM not in plan, plan  # the 深圳 bigrams' lookup, the rest checked on its rows


VALUES = ["Shenzhen", "shenzhen", "Shenzhen ", " Shenzhen", "SHENZHEN", "Shenzhén", "深圳", "深圳市", "Ｓhenzhen", ""]


def test_an_equality_as_a_range_finds_the_same_rows(app, sql):
    """`location >= v AND location <= v` holds exactly where `location = v` does: case, spaces, accents, CJK,
    full-width letters, the empty string; and an IN list as its values' ranges."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Customer
    from app.search.equalities import btree_equalities

    for i, value in enumerate(VALUES * 3):
        sql("INSERT INTO customers (name, location) VALUES (:n, :l)", n=f"Customer {i}", l=value)
    sql("INSERT INTO customers (name) VALUES ('No location')")
    with app.app_context():
        conn = db.session.connection()
        act_as(conn, "admin")
        pk = Customer.customer_id
        for condition in [*(Customer.location == v for v in VALUES), Customer.location.in_(VALUES[:3]),
                          Customer.location.in_(["深圳", "Nowhere"])]:
            statement = select(pk).where(condition).order_by(pk)
            ranged = btree_equalities(statement)
            assert "location >=" in str(ranged) and "location =" not in str(ranged).replace(">=", "").replace(
                "<=", ""), str(ranged)
            expected = conn.execute(statement).scalars().all()
            assert expected and conn.execute(ranged).scalars().all() == expected, condition
        db.session.rollback()


def test_only_text_columns_with_both_indexes_are_rewritten(app):
    """A key, a band (B-tree only), a table without search indexes: their equalities stay as they are."""
    from sqlalchemy import select

    from app.models import Customer, Log
    from app.search.equalities import btree_equalities, trigram_and_btree

    with app.app_context():
        assert trigram_and_btree(Customer.__table__) == {"name", "industry", "location"}
        kept = select(Customer.customer_id).where(Customer.customer_id == 5, Customer.revenue_band == 3)
        assert str(btree_equalities(kept)) == str(kept)
        log = select(Log.log_id).where(Log.table_name == "customers", Log.action.in_(["INSERT"]))
        assert str(btree_equalities(log)) == str(log)
