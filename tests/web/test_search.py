"""Search: /search/ across the CRM, the list screens' indexed filters, the indexes themselves."""
from __future__ import annotations

import re
import time

import pytest

from tests.support.client import login

CUSTOMERS = ["华为技术有限公司", "深圳腾达电子", "Acme Corporation", "Global Acme Holdings",
             "O'Brien & Sons", "100% Organic Foods", "Under_score Ltd", "华为云 Cloud Services"]


@pytest.fixture
def crm(sql) -> dict[str, int]:
    """A few customers, a contact, activities and a ticket, in Chinese and English."""
    ids = {}
    for name in CUSTOMERS:
        (ids[name],), = sql("INSERT INTO customers (name, location) VALUES (:n, :l) RETURNING customer_id",
                            n=name, l="深圳" if "腾达" in name else "London")
    (ids["contact"],), = sql(
        "INSERT INTO contacts (customer_id, first_name, last_name, email, phone) "
        "VALUES (:c, '伟', '王', 'wang.wei@huawei.example.cn', '+86 138 1234 5678') RETURNING contact_id",
        c=ids["华为技术有限公司"])
    (ids["activity"],), = sql(
        "INSERT INTO activities (customer_id, type, subject, description) VALUES "
        "(:c, 'meeting', 'Contract renewal', 'Discussed the licence renewal and a 5% discount. 续签合同。') "
        "RETURNING activity_id", c=ids["Acme Corporation"])
    (ids["ticket"],), = sql(
        "INSERT INTO service_tickets (customer_id, subject, description) VALUES "
        "(:c, '系统无法登录', 'Login fails for the Acme admin since Monday') RETURNING ticket_id",
        c=ids["Acme Corporation"])
    return ids


def _groups(html: str) -> dict[str, str]:
    """Entity table name -> the HTML of its result group."""
    return dict(re.findall(r'data-entity="(\w+)">(.*?)</ul>', html, re.S))


def _search(client, query: str) -> tuple[int, str]:
    response = client.get("/search/", query_string={"q": query})
    return response.status_code, response.get_data(as_text=True)


def test_two_character_chinese_finds_highlights_and_links(admin, crm):
    status, html = _search(admin, "华为")
    assert status == 200
    groups = _groups(html)
    customers = groups["customers"]
    assert f'href="/customers/show/{crm["华为技术有限公司"]}"' in customers
    assert "<mark>华为</mark>技术有限公司" in customers
    assert "Acme" not in customers
    # the contact matches by its e-mail (substring "huawei" is not "华为": not found by it)
    assert "contacts" not in groups


def test_one_character_chinese_and_location(admin, crm):
    assert "<mark>腾</mark>达电子" in _groups(_search(admin, "腾")[1])["customers"]
    groups = _groups(_search(admin, "深圳")[1])
    assert f'/customers/show/{crm["深圳腾达电子"]}' in groups["customers"]
    assert "Location: <mark>深圳</mark>" in groups["customers"]


def test_english_stemming_and_ranking(admin, crm):
    groups = _groups(_search(admin, "renewals")[1])
    assert f'/activities/show/{crm["activity"]}' in groups["activities"]
    assert "Contract <mark>renewal</mark>" in groups["activities"]
    acme = _groups(_search(admin, "acme")[1])["customers"]
    # the title that starts with the query ranks first
    assert acme.index("Corporation") < acme.index("Global")


def test_mixed_chinese_english_email_and_phone(admin, crm):
    groups = _groups(_search(admin, "华为云 Cloud")[1])
    assert f'/customers/show/{crm["华为云 Cloud Services"]}' in groups["customers"]
    assert f'/customers/show/{crm["华为技术有限公司"]}' not in groups["customers"]
    contacts = _groups(_search(admin, "wang.wei@huawei")[1])["contacts"]
    assert f'/contacts/show/{crm["contact"]}' in contacts and "<mark>wang.wei@huawei</mark>" in contacts
    assert f'/contacts/show/{crm["contact"]}' in _groups(_search(admin, "1234 5678")[1])["contacts"]


def test_punctuation_and_like_wildcards_are_literal(admin, crm):
    groups = _groups(_search(admin, "O'Brien")[1])
    assert "O&#39;Brien &amp; Sons" in groups["customers"].replace("<mark>", "").replace("</mark>", "")
    customers = _groups(_search(admin, "100%")[1])["customers"]
    assert "Organic" in customers and "Acme" not in customers
    customers = _groups(_search(admin, "r_sc")[1])["customers"]
    assert "Under_score" in customers.replace("<mark>", "").replace("</mark>", "")
    status, html = _search(admin, "!!! ???")
    assert status == 200 and "Type some letters" in html


def test_sql_looking_and_html_queries_are_just_text(admin, crm, sql):
    for query in ["'; DROP TABLE customers; --", "华为' OR '1'='1", "<script>alert(1)</script>"]:
        status, html = _search(admin, query)
        assert status == 200
        assert "<script>alert(1)</script>" not in html
    assert sql("SELECT count(*) FROM customers")[0][0] == len(CUSTOMERS)
    sql("INSERT INTO customers (name) VALUES ('<b>Bold</b> 华为 <script>x()</script>')")
    html = _search(admin, "华为")[1]
    assert "&lt;b&gt;Bold&lt;/b&gt; <mark>华为</mark> &lt;script&gt;x()&lt;/script&gt;" in html
    assert "<script>x()" not in html


def test_empty_and_blank_queries_show_the_form(admin, crm):
    for query in ["", "   ", "\t\n"]:
        status, html = _search(admin, query)
        assert status == 200 and 'name="q"' in html
        assert "crm-search-hit" not in html and "No matches" not in html
    assert admin.get("/search/").status_code == 200
    status, html = _search(admin, "华为\x00")  # the request guard refuses NUL characters
    assert status == 400 and "NUL" in html


def test_results_only_from_entities_the_role_may_list(app, client, crm, sql):
    sql("INSERT INTO roles (role_name) VALUES ('Support')")
    sql("INSERT INTO role_permissions (role_id, permission_id) "
        "SELECT r.role_id, p.permission_id FROM roles r, permissions p WHERE r.role_name = 'Support' "
        "AND p.permission_name IN ('can_list on TicketView', 'can_show on TicketView', "
        "'can_search on SearchView')")
    # its data scope reaches every record (row-level security): only its permissions limit the entities
    sql("INSERT INTO role_data_scopes (role_id, table_name, scope) SELECT role_id, t, 'all' FROM roles, "
        "unnest(ARRAY['customers', 'leads', 'opportunities', 'service_tickets']) t WHERE role_name = 'Support'")
    with app.app_context():
        from app.extensions import db

        assert app.appbuilder.sm.add_user("support", "Sup", "Port", "support@example.com",
                                          app.appbuilder.sm.find_role("Support"), password="Support-pass-1234")
        db.session.remove()
    login(client, "support", "Support-pass-1234")
    status, html = _search(client, "acme")
    assert status == 200
    groups = _groups(html)
    assert set(groups) == {"service_tickets"}  # Acme is also a customer and in an activity
    assert "Acme Corporation" not in html and "Contract renewal" not in html
    assert "Searching Service tickets." in html
    assert 'id="crm-topbar-search"' in client.get("/tickets/list/").get_data(as_text=True)


def test_search_needs_its_permission_and_a_login(app, client, crm, sql):
    assert client.get("/search/?q=acme").status_code == 302  # anonymous: to the login page
    sql("INSERT INTO roles (role_name) VALUES ('Lister')")
    sql("INSERT INTO role_permissions (role_id, permission_id) SELECT r.role_id, p.permission_id "
        "FROM roles r, permissions p WHERE r.role_name = 'Lister' AND p.permission_name = 'can_list on CustomerView'")
    with app.app_context():
        from app.extensions import db

        assert app.appbuilder.sm.add_user("lister", "Li", "St", "lister@example.com",
                                          app.appbuilder.sm.find_role("Lister"), password="Lister-pass-1234")
        db.session.remove()
    login(client, "lister", "Lister-pass-1234")
    response = client.get("/search/?q=acme")
    assert response.status_code in (302, 403) and "Acme" not in response.get_data(as_text=True)
    assert 'id="crm-topbar-search"' not in client.get("/customers/list/").get_data(as_text=True)


def test_top_bar_search_box_on_every_page(admin):
    html = admin.get("/customers/list/").get_data(as_text=True)
    assert re.search(r'<form id="crm-topbar-search"[^>]*action="/search/"', html)
    assert 'value="华为"' in admin.get("/search/?q=华为").get_data(as_text=True)


def test_bigram_search_is_exact_about_order_and_adjacency(admin, sql):
    for name in ["华为技术", "为华贸易", "华南为民", "华为"]:
        sql("INSERT INTO customers (name) VALUES (:n)", n=name)
    customers = _groups(_search(admin, "华为")[1])["customers"]
    assert "<mark>华为</mark>技术" in customers
    assert "为华贸易" not in customers and "华南为民" not in customers
    html = _list(admin, "/customers/list/?_flt_0_name=为华")
    assert "为华贸易" in html and "华为技术" not in html and "华南为民" not in html


def test_a_frequent_term_is_capped_and_ranks_the_newest_matches(admin, sql):
    from app.search.service import CANDIDATES, PER_ENTITY

    sql("INSERT INTO customers (name, location) SELECT 'Company ' || i, 'Zebrafish Bay' "
        "FROM generate_series(1, :n) i", n=CANDIDATES + 20)
    sql("INSERT INTO customers (name, location) VALUES ('Zebrafish Labs', 'Oslo')")
    html = _search(admin, "zebrafish")[1]
    customers = _groups(html)["customers"]
    assert f'<span class="badge">{CANDIDATES}+</span>' in html
    assert "Open the list filtered by this text" in html
    # the title match ranks first; the oldest rows are beyond the candidates
    assert customers.index("<mark>Zebrafish</mark> Labs") < customers.index("Company ")
    assert customers.count("crm-search-hit") == PER_ENTITY and "Company 1<" not in customers


def test_a_search_stopped_by_the_timeout_says_so_and_keeps_the_other_results(app, admin, crm, monkeypatch):
    from app.extensions import db
    from app.search import service

    monkeypatch.setattr(service, "SEARCH_TIMEOUT_MS", 300)
    with app.app_context(), db.engine.connect() as blocker:
        # another session holds the activities table: the activities lookup waits past the timeout
        blocker.exec_driver_sql("LOCK TABLE activities IN ACCESS EXCLUSIVE MODE")
        status, html = _search(admin, "acme")
        blocker.rollback()
    assert status == 200
    groups = _groups(html)
    assert f'/customers/show/{crm["Acme Corporation"]}' in groups["customers"]
    assert f'/tickets/show/{crm["ticket"]}' in groups["service_tickets"]
    assert "This search was stopped after 0.3 s" in html
    assert html.index('data-entity="activities"') < html.index("This search was stopped") \
        < html.index('data-entity="service_tickets"')
    # the next search runs normally (the timeout ended with its transaction)
    assert "Contract <mark>renewal</mark>" in _groups(_search(admin, "renewal")[1])["activities"]


def test_a_failed_lookup_fails_the_search_at_once_without_searching_the_rest(app, crm, monkeypatch):
    """A lost connection is not a timeout: the search fails (the page's 503), and the other thread
    takes no further entity (each could wait up to the 3 s stop)."""
    from psycopg import OperationalError as DriverError
    from sqlalchemy.exc import OperationalError

    from app.extensions import db
    from app.search import service

    searched = []

    def failing(session, entity, query, limit, scope=None):
        searched.append(entity.table.name)
        if len(searched) == 1:
            raise OperationalError("SELECT ...", {}, DriverError("server closed the connection unexpectedly"))
        time.sleep(0.2)  # the others answer, slowly
        return [], 0

    monkeypatch.setattr(service, "search_entity", failing)
    with app.test_request_context("/search/"), pytest.raises(OperationalError):
        service.search(db.session, "acme")
    # the first entity fails; the other thread had taken at most one before the queue was emptied
    assert 1 <= len(searched) <= 2, searched


# ------------------------------------------------------------------ list screens


def _list(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_list_contains_filter_chinese_english_and_wildcards(admin, crm):
    html = _list(admin, "/customers/list/?_flt_0_name=华为")
    assert "华为技术有限公司" in html and "华为云 Cloud Services" in html and "深圳腾达电子" not in html
    html = _list(admin, "/customers/list/?_flt_0_name=腾达电")
    assert "深圳腾达电子" in html and "华为技术" not in html
    html = _list(admin, "/customers/list/?_flt_0_name=%25")  # a literal %
    assert "100% Organic Foods" in html and "Acme Corporation" not in html
    html = _list(admin, "/customers/list/?_flt_0_name=")  # empty: no filtering
    assert "Acme Corporation" in html and "深圳腾达电子" in html
    html = _list(admin, "/contacts/list/?_flt_0_phone=138 1234")
    assert "wang.wei@huawei.example.cn" in html


def test_list_matches_words_filter_stems_english(admin, crm):
    html = _list(admin, "/activities/list/?_flt_1_subject=renewals")
    assert "Contract renewal" in html
    html = _list(admin, "/activities/list/?_flt_1_description=discounts renewing")
    assert "Contract renewal" in html
    assert "Contract renewal" not in _list(admin, "/activities/list/?_flt_1_subject=contracting sales")
    html = _list(admin, "/tickets/list/?_flt_1_subject=登录")
    assert "系统无法登录" in html
    assert "Matches words" in _list(admin, "/customers/list/")
    assert "系统无法登录" not in _list(admin, "/tickets/list/?_flt_1_subject=录登")


def test_rest_api_filters_use_the_same_search(admin, crm):
    import json

    query = json.dumps({"filters": [{"col": "name", "opr": "ct", "value": "华为"}]})
    response = admin.get("/api/v1/customers/", query_string={"q": query})
    assert response.status_code == 200
    names = {row["name"] for row in response.get_json()["result"]}
    assert names == {"华为技术有限公司", "华为云 Cloud Services"}


# ------------------------------------------------------------------ indexes


def test_every_searchable_column_has_its_indexes(sql):
    from app.models.searchable import INDEXED_MODELS, index_names

    present = {r[0] for r in sql("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    for model in INDEXED_MODELS:
        assert index_names(model) <= present, model.__tablename__
    assert sql("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'") == [("pg_trgm",)]


def test_database_and_python_agree_on_cjk_characters(sql):
    from app.search.text import spaced

    sample = "华为abc カナ 한국 㐀 豈 Ünïcode 123"
    (db_spaced,), = sql("SELECT crm_cjk_spaced(:t)", t=sample)[0:1]
    assert db_spaced.split() == spaced(sample).split()


def _plan(app, statement, *settings: str, analyze: bool = False,
          without: str | tuple[str, ...] = ("ix%%sort", "ix%%owner_id")) -> str:
    """EXPLAIN (ANALYZE) of `statement`, with sequential scans made a last resort (the table here is small).

    The indexes named LIKE `without` (a pattern or several) are dropped for it (in a transaction rolled back).
    """
    from sqlalchemy import create_engine
    from sqlalchemy.dialects import postgresql

    compiled = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    # As the owner, in a transaction rolled back: a whole-index scan of a list sort index
    # (migration 0010) or of an (owner_id, key) index (0026, the row-level policies') is, like a
    # sequential scan, what a small table gets when seqscans are off: the owner role has no policy.
    patterns = ", ".join(f"'{p}'" for p in ((without,) if isinstance(without, str) else without))
    engine = create_engine(app.config["MIGRATION_DATABASE_URL"])
    with engine.connect() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for setting in settings:
            conn.exec_driver_sql(f"SET LOCAL {setting}")
        dropped = f"SELECT indexname FROM pg_indexes WHERE indexname LIKE ANY (ARRAY[{patterns}])"
        for (name,) in conn.exec_driver_sql(dropped):
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        explain = "EXPLAIN (ANALYZE, COSTS OFF)" if analyze else "EXPLAIN"
        rows = conn.exec_driver_sql(f"{explain} {compiled}".replace("%", "%%")).fetchall()
        conn.rollback()
    engine.dispose()
    return "\n".join(r[0] for r in rows)


@pytest.fixture
def many_rows(sql):
    """Some thousands of rows, so that plans are not those of an empty table."""
    sql("INSERT INTO customers (name, location) SELECT "
        "CASE WHEN i % 2 = 0 THEN 'Company ' || md5(i::text) ELSE '公司' || chr(19968 + i % 2000) || "
        "chr(19968 + (i * 7) % 2000) || chr(19968 + (i * 13) % 2000) END, 'City ' || (i % 50) "
        "FROM generate_series(1, 5000) i")
    sql("INSERT INTO activities (type, subject, description) SELECT 'call', 'Call ' || md5(i::text), "
        "'Notes ' || md5((i * 3)::text) || ' 客户' || chr(19968 + i % 3000) || chr(19968 + (i * 11) % 3000) "
        "FROM generate_series(1, 5000) i")
    sql("ANALYZE customers")
    sql("ANALYZE activities")


def test_explain_shows_the_search_indexes(app, many_rows):
    from sqlalchemy import select

    from app.models import Activity, Customer
    from app.search.conditions import Terms, contains, matches_words
    from app.search.service import ENTITIES, lookup_statement, lookups

    customers = Customer.__table__.c
    activities = Activity.__table__.c
    cases = [(customers.name, contains, "c4ca4238a0", "ix_customers_name_trgm"),
             (customers.name, contains, "一丁", "ix_customers_name_bigrams"),
             (customers.name, contains, "丁", "ix_customers_name_words"),
             (activities.description, contains, "a87ff679", "ix_activities_description_trgm"),
             (activities.description, contains, "客户", "ix_activities_description_bigrams"),
             (activities.subject, matches_words, "calls", "ix_activities_subject_words")]
    for column, condition, query, index in cases:
        statement = select(*column.table.primary_key.columns).where(condition(column, Terms(query)))
        assert index in _plan(app, statement), index
    # The CRM-wide search's own index lookups for 3+ characters, 2 and 1 CJK characters, a
    # short Latin prefix: the search indexes serve every branch of each lookup (one unindexed
    # OR branch would mean a full scan).
    entity = next(e for e in ENTITIES if e.model is Customer)
    for query, index in [("c4ca4238", "ix_customers_name_trgm"), ("c4ca4238", "ix_customers_name_words"),
                         ("一丁", "ix_customers_name_bigrams"), ("丁", "ix_customers_name_words"),
                         ("co", "ix_customers_name_words")]:
        plans = [_plan(app, lookup_statement(entity, where)) for where in lookups(entity, Terms(query))]
        assert any(index in plan for plan in plans) and not any("Seq Scan" in plan for plan in plans), plans
    # pg_trgm has no trigram to look up in a one- or two-letter query: through its index every row
    # would be a candidate (seconds at a million rows). Even with no word index to take, the
    # short query's lookups must not go through it.
    for where in lookups(entity, Terms("co")):
        plan = _plan(app, lookup_statement(entity, where), without="ix%%words")
        assert "_words" not in plan and "_trgm" not in plan, plan


def test_a_term_in_one_percent_of_the_rows_is_found_in_the_newest_rows_not_through_an_index(app, many_rows):
    """The newest 2,000 rows hold 40 matches of "City 7" (every 50th row): the search reads on, newest
    first, instead of building an index bitmap of every match."""
    from app.models import Customer
    from app.search.conditions import Terms
    from app.search.service import ENTITIES, WIDEN_AT, entity_statement

    entity = next(e for e in ENTITIES if e.model is Customer)
    plan = _plan(app, entity_statement(entity, Terms("City 7")), analyze=True)
    newest, wider = (int(re.search(rf"Subquery Scan on {name} .*?rows=(\d+)", plan).group(1))
                     for name in ("newest", "wider"))
    assert newest == 40 >= WIDEN_AT and wider == 60, plan
    lookups = [line for line in plan.splitlines() if "Bitmap Index Scan on ix_customers_" in line]
    assert lookups and all("never executed" in line for line in lookups), plan
