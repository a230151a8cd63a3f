"""`crm seed --scale S`: the real command on a test database, checked with SQL, the ORM and HTTP."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from app.models.choices import ACTIVITY_TYPES, LEAD_STATUSES, OPPORTUNITY_STAGES, PRIORITIES, TICKET_STATUSES
from app.seed.plan import counts_for_scale

SCALE = 0.001
CJK = re.compile(r"[\u4e00-\u9fff]")
TABLES = ("customers", "contacts", "leads", "opportunities", "activities", "service_tickets", "logs")


def seed(app, *args: str):
    return app.test_cli_runner().invoke(args=["crm", "seed", *args])


def counts(sql) -> dict[str, int]:
    """Rows per table (without the events of logs maintenance, which runs when a month is missing, nor the
    audit of the staff accounts a first seed creates: app/seed/staff.py)."""
    return {t: sql(f"SELECT count(*) FROM {t}" + (" WHERE action NOT IN ('logs maintain', 'insert users', "
                                                 "'insert teams', 'update teams')" if t == "logs" else ""))[0][0]
            for t in TABLES}


def schema(sql) -> set[tuple]:
    """Indexes, constraints and audit triggers (with their enabled state) of the public tables."""
    indexes = sql("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
    constraints = sql("SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                      "WHERE connamespace = 'public'::regnamespace")
    triggers = sql("SELECT c.relname, tgname, tgenabled FROM pg_trigger JOIN pg_class c ON c.oid = tgrelid "
                   "WHERE NOT tgisinternal AND c.relnamespace = 'public'::regnamespace")
    return {("index", *r) for r in indexes} | {("constraint", *r) for r in constraints} | \
        {("trigger", *r) for r in triggers}


def test_seed_loads_realistic_data_and_restores_the_schema(app, sql, admin):
    before, schema_before = counts(sql), schema(sql)
    result = seed(app, "--scale", str(SCALE))
    assert result.exit_code == 0, result.output
    expected = counts_for_scale(SCALE)
    after = counts(sql)
    for table in TABLES:
        # logs: the generated rows plus the one event that records the seed itself
        assert after[table] - before[table] == expected[table] + (table == "logs"), table

    # every documented value is present
    for table, column, values in (("leads", "status", LEAD_STATUSES), ("opportunities", "stage", OPPORTUNITY_STAGES),
                                  ("service_tickets", "status", TICKET_STATUSES),
                                  ("service_tickets", "priority", PRIORITIES), ("activities", "type", ACTIVITY_TYPES)):
        assert {r[0] for r in sql(f"SELECT DISTINCT {column} FROM {table}")} == set(values), (table, column)
    # Chinese and English text
    for table, column in (("customers", "name"), ("contacts", "last_name"), ("activities", "subject"),
                          ("activities", "description"), ("service_tickets", "subject"), ("opportunities", "name")):
        texts = [r[0] for r in sql(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")]
        chinese = sum(1 for t in texts if CJK.search(t))
        assert 0.3 * len(texts) < chinese < 0.7 * len(texts), (table, column, chinese, len(texts))
    # a few customers own many rows; dates over five years, none in the future
    top, median = sql("""SELECT max(n), percentile_cont(0.5) WITHIN GROUP (ORDER BY n)
                         FROM (SELECT count(*) AS n FROM activities GROUP BY customer_id) AS per_customer""")[0]
    assert top > 10 * median
    oldest, newest = sql("SELECT min(activity_date), max(activity_date) <= now() AT TIME ZONE 'utc' "
                         "FROM activities")[0]
    assert sql("SELECT now() AT TIME ZONE 'utc' - %s > interval '4 years'" % f"'{oldest}'::timestamp")[0][0]
    assert newest
    # an activity with a contact belongs to that contact's customer
    assert sql("SELECT count(*) FROM activities a JOIN contacts c USING (contact_id) "
               "WHERE a.customer_id <> c.customer_id")[0][0] == 0

    # the encrypted amounts are real ciphertext that the app reads back
    # (version byte 1, key id, nonce, AES-GCM of the padded amount: 57 bytes, whatever the amount)
    assert sql("SELECT count(*) FROM customers WHERE octet_length(revenue) = 57 AND get_byte(revenue, 0) = 1"
               )[0][0] > 0.8 * expected["customers"]
    from sqlalchemy import select

    from app.encryption.columns import band_of
    from app.extensions import db
    from app.models import Customer, Opportunity
    from tests.support.users import as_admin

    with as_admin(app):  # row-level security: the admin sees every row
        customers = db.session.scalars(select(Customer).where(Customer.revenue_band.is_not(None)).limit(50)).all()
        opportunities = db.session.scalars(select(Opportunity).where(Opportunity.value_band.is_not(None))
                                           .limit(50)).all()
        assert customers and opportunities
        for row, amount, band in [(c, c.revenue, c.revenue_band) for c in customers] + \
                                 [(o, o.value, o.value_band) for o in opportunities]:
            assert isinstance(amount, Decimal) and band_of(amount) == band, row
        shown = customers[0]
        page = admin.get(f"/customers/show/{shown.customer_id}").get_data(as_text=True)
        assert f"{shown.revenue:,.2f}" in page or f"{shown.revenue:.2f}" in page

    # logs: in their month partitions (nothing in the default one), over five years, realistic rows
    months = sql("SELECT count(DISTINCT tableoid) FROM logs")[0][0]
    assert months >= 60
    assert sql("SELECT count(*) FROM logs WHERE tableoid = (SELECT oid FROM pg_class WHERE relname = 'logs_default')"
               )[0][0] == 0
    actions = {r[0] for r in sql("SELECT DISTINCT action FROM logs")}
    assert {"insert activities", "update customers", "delete contacts", "login", "logout"} <= actions
    assert sql("SELECT count(*) FROM logs WHERE created_at > now() AT TIME ZONE 'utc'")[0][0] == 0
    # the bulk load itself was not audited row by row (the trigger would name the owner role; the
    # staff accounts it creates are, as any new account) ...
    assert sql("SELECT count(*) FROM logs WHERE description LIKE '%crm_owner%' "
               "AND table_name NOT IN ('users', 'teams')")[0][0] == 0
    # ... but recorded as one event
    (event,), = sql("SELECT description FROM logs WHERE action = 'seed'")
    assert '"customers": 1000' in event and '"scale": 0.001' in event

    # sales staff own the rows: 2 teams led by a Sales Manager, 6 users (200 in 20 teams at scale 1),
    # random passwords shown nowhere; a customer's tickets and most of its opportunities are its owner's
    from app.seed.staff import staff_size

    assert staff_size(1_000_000) == (20, 200)
    teams = sql("SELECT t.team_id, r.role_name FROM teams t JOIN users u ON u.user_id = t.leader_id "
                "JOIN roles r USING (role_id)")
    assert len(teams) == 2 and {r[1] for r in teams} == {"Sales Manager"}
    staff = sql("SELECT u.user_id, r.role_name, u.password_hash FROM users u JOIN roles r USING (role_id) "
                "WHERE team_id IS NOT NULL")
    assert len(staff) == 6 and sorted(r[1] for r in staff).count("Sales Rep") == 4
    assert len({r[2] for r in staff}) == 6 and all(r[2].startswith("pbkdf2:sha256:") for r in staff)
    for table in ("customers", "leads", "opportunities", "service_tickets"):
        owners = dict(sql(f"SELECT owner_id IS NULL, count(*) FROM {table} GROUP BY 1"))
        assert owners == {False: expected[table]}, table
        assert sql(f"SELECT count(*) FROM {table} WHERE owner_id <> ALL(:s)", s=[r[0] for r in staff])[0][0] == 0
    spread = sorted(r[0] for r in sql("SELECT count(*) FROM customers GROUP BY owner_id"))
    assert len(spread) == 6 and spread[-1] > 2 * spread[0]  # skewed: some reps own far more accounts
    assert sql("SELECT avg((t.owner_id = c.owner_id)::int) FROM service_tickets t JOIN customers c "
               "USING (customer_id)")[0][0] > 0.95
    assert 0.7 < sql("SELECT avg((o.owner_id = c.owner_id)::int) FROM opportunities o JOIN customers c "
                     "USING (customer_id)")[0][0] < 1

    # indexes, keys and triggers are back as they were, and auditing works again
    assert schema(sql) == schema_before
    sql("UPDATE customers SET location = 'Hangzhou' WHERE customer_id = (SELECT min(customer_id) FROM customers)")
    assert sql("SELECT count(*) FROM logs WHERE action = 'update customers' AND description LIKE '%Hangzhou%' "
               "AND description LIKE '%crm_app%'")[0][0] == 1

    # a second run appends after the existing ids; the keys still hold
    top_id = sql("SELECT max(customer_id) FROM customers")[0][0]
    result = seed(app, "--scale", str(SCALE), "--seed", "7")
    assert result.exit_code == 0, result.output
    assert counts(sql)["customers"] == after["customers"] + expected["customers"]
    assert sql("SELECT min(customer_id) FROM customers WHERE customer_id > %d" % top_id)[0][0] == top_id + 1
    assert schema(sql) == schema_before
    assert sql("SELECT count(*) FROM users WHERE team_id IS NOT NULL")[0][0] == 6  # the same staff again


def test_owners_only_gives_unowned_rows_an_owner_resumably(app, sql):
    # rows from before records had owners (the admin, who sees all, may write them unowned)
    sql("INSERT INTO customers (name, owner_id) SELECT 'Old ' || g, NULL FROM generate_series(1, 30) g")
    sql("INSERT INTO service_tickets (customer_id, subject, owner_id) SELECT customer_id, 'T', NULL FROM customers")
    result = seed(app, "--owners-only")
    assert result.exit_code == 0, result.output
    assert "30 customers" in result.output and "30 service_tickets" in result.output
    assert sql("SELECT count(*) FROM customers WHERE owner_id IS NULL")[0][0] == 0
    assert sql("SELECT count(*) FROM service_tickets t JOIN customers c USING (customer_id) "
               "WHERE t.owner_id <> c.owner_id")[0][0] <= 1
    changes = sql("SELECT count(*) FROM logs WHERE action = 'update customers' AND description LIKE '%owner_id%'")
    assert changes[0][0] == 30  # each change of owner is audited
    again = seed(app, "--owners-only")  # nothing left: nothing changes
    assert again.exit_code == 0 and "0 customers" in again.output


@pytest.mark.parametrize("scale", ["0", "-1", "1000", "nan", "abc"])
def test_bad_scale_is_refused_clearly(app, sql, scale):
    before = counts(sql)
    result = seed(app, "--scale", scale)
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "--scale" in result.output
    assert counts(sql) == before


def start(app, times: int = 1) -> None:
    """What `make run` does at each start: bootstrap with demo data on."""
    from app.ops.bootstrap import bootstrap

    app.config["DEMO_DATA"] = True
    for _ in range(times):
        with app.app_context():
            bootstrap(app, echo=lambda *_: None)


def in_default_partition(owner_sql) -> int:
    return owner_sql("SELECT count(*) FROM audit.logs_default")[0][0]


@pytest.mark.parametrize("starts, seeds", [(1, 1), (2, 1), (1, 2), (2, 2)],
                         ids=["fresh with demo data", "started twice", "already seeded", "started twice, seeded twice"])
def test_seed_works_on_every_demo_instance(app, sql, owner_sql, starts, seeds):
    start(app, starts)
    demo_logs = sql("SELECT count(*) FROM logs WHERE action = 'demo data'")[0][0]
    assert demo_logs and in_default_partition(owner_sql) == 0  # the demo's back-dated rows are in their months
    before = counts(sql)
    for run in range(seeds):
        result = seed(app, "--scale", str(SCALE), "--seed", str(run + 1))
        assert result.exit_code == 0, result.output
    expected = counts_for_scale(SCALE)
    after = counts(sql)
    for table in TABLES:
        assert after[table] - before[table] == seeds * (expected[table] + (table == "logs")), table
    assert in_default_partition(owner_sql) == 0
    assert sql("SELECT count(*) FROM logs WHERE action = 'demo data'")[0][0] == demo_logs


def test_seed_moves_demo_rows_an_older_version_left_in_the_default_partition(app, owner_sql):
    from app.seed.demo import load_demo_data

    with app.app_context():
        load_demo_data()  # without their months: where earlier versions left the demo's back-dated rows
    stranded = in_default_partition(owner_sql)
    assert stranded
    result = seed(app, "--scale", str(SCALE))
    assert result.exit_code == 0, result.output
    assert f"moved {stranded} rows out of the default partition" in result.output
    assert in_default_partition(owner_sql) == 0
    assert owner_sql("SELECT count(*) FROM logs WHERE action = 'demo data' "
                     "AND tableoid::regclass::text <> 'audit.logs_' || to_char(created_at, 'YYYY_MM')")[0][0] == 0
