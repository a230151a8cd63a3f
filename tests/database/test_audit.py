"""The audit log in the database: partitions, triggers on every table, append-only, no secrets."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import sqlalchemy.exc

from app.audit.partitions import add_months, month_start, utc_today



@pytest.fixture
def app_sql(sql):
    """SQL as the runtime role the app connects as."""
    return sql


@pytest.fixture
def sql(owner_sql):  # noqa: F811  (this module speaks as an operator in psql, i.e. the owner)
    return owner_sql

def _logs(sql, where: str = "TRUE", **params) -> list:
    return sql(f"SELECT log_id, user_id, action, table_name, record_key, description FROM logs "
               f"WHERE {where} ORDER BY log_id", **params)


def _described(rows) -> list[dict]:
    return [json.loads(r.description) for r in rows]


def test_logs_is_partitioned_by_month_on_created_at(sql):
    (strategy, key), = sql("SELECT partstrat, pg_get_partkeydef('logs'::regclass) FROM pg_partitioned_table "
                           "WHERE partrelid = 'logs'::regclass")
    assert strategy == "r" and key == "RANGE (created_at)"
    pk = {r[0] for r in sql("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'logs'::regclass AND i.indisprimary")}
    assert pk == {"log_id", "created_at"}
    names = {r[0] for r in sql("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                               "WHERE i.inhparent = 'logs'::regclass")}
    this = month_start(utc_today())
    for offset in range(4):
        assert f"logs_{add_months(this, offset):%Y_%m}" in names
    assert "logs_default" in names


def test_no_row_lands_in_the_default_partition_for_the_next_three_months(sql):
    today = utc_today()
    end = add_months(month_start(today), 4)  # through the last day of the third month ahead
    sql("INSERT INTO logs (action, created_at) SELECT 'probe', d + time '23:59:59.999' "
        "FROM generate_series(CAST(:a AS timestamp), CAST(:b AS timestamp) - interval '1 day', interval '1 day') d",
        a=dt.datetime.combine(today, dt.time()), b=dt.datetime.combine(end, dt.time()))
    sql("INSERT INTO logs (action, created_at) VALUES ('probe', :t)", t=dt.datetime.combine(end, dt.time())
        - dt.timedelta(microseconds=1))
    assert sql("SELECT count(*) FROM audit.logs_default")[0][0] == 0
    wrong = sql("SELECT count(*) FROM logs WHERE action = 'probe' "
                "AND tableoid::regclass::text <> 'audit.logs_' || to_char(created_at, 'YYYY_MM')")
    assert wrong[0][0] == 0
    assert sql("SELECT count(*) FROM logs WHERE action = 'probe'")[0][0] >= 89


def test_plain_sql_changes_are_logged_with_the_database_role(sql):
    (cid,), = sql("INSERT INTO customers (name, industry) VALUES ('Plain Co', 'Retail') RETURNING customer_id")
    sql("UPDATE customers SET industry = 'Banking', location = '上海' WHERE customer_id = :c", c=cid)
    sql("UPDATE customers SET name = name WHERE customer_id = :c", c=cid)  # no real change: no entry
    sql("DELETE FROM customers WHERE customer_id = :c", c=cid)
    rows = _logs(sql, "table_name = 'customers' AND record_key = :k", k=str(cid))
    assert [r.action for r in rows] == ["insert customers", "update customers", "delete customers"]
    assert all(r.user_id is None for r in rows)
    inserted, updated, deleted = _described(rows)
    assert inserted["key"] == {"customer_id": cid} and inserted["new"]["name"] == "Plain Co"
    assert updated["changes"] == {"industry": ["Retail", "Banking"], "location": [None, "上海"]}
    assert deleted["old"]["industry"] == "Banking"
    assert {d["db_role"] for d in (inserted, updated, deleted)} == {"crm_owner"}
    assert "via" not in updated  # not through the app


def test_every_crm_and_security_table_is_audited(sql):
    from app.audit.partitions import NOT_AUDITED

    tables = {r[0] for r in sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")} - set(NOT_AUDITED)
    audited = {r[0] for r in sql("SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger "
                                 "WHERE tgname LIKE '%\\_audit' AND NOT tgisinternal")}
    assert {"customers", "contacts", "leads", "opportunities", "activities", "service_tickets", "reports",
            "users", "roles", "permissions", "role_permissions"} <= tables
    assert tables <= audited
    assert not audited & {"user_sessions", "login_rate_windows"}  # per-request sign-in state


def test_bulk_statements_and_truncate_are_logged(sql):
    sql("INSERT INTO reports (report_type) SELECT 'bulk ' || g FROM generate_series(1, 300) g")
    sql("UPDATE reports SET data = '{\"x\": 1}' WHERE report_type LIKE 'bulk %'")
    counts = dict(sql("SELECT action, count(*) FROM logs WHERE table_name = 'reports' GROUP BY action"))
    assert counts == {"insert reports": 300, "update reports": 300}
    sql("TRUNCATE reports")
    entry, = _logs(sql, "action = 'truncate reports'")
    assert json.loads(entry.description)["db_role"] == "crm_owner"


def test_composite_keys_are_logged(sql):
    (role_id,), = sql("INSERT INTO roles (role_name) VALUES ('Auditor test') RETURNING role_id")
    (perm_id,), = sql("SELECT min(permission_id) FROM permissions")
    sql("INSERT INTO role_permissions (role_id, permission_id) VALUES (:r, :p)", r=role_id, p=perm_id)
    entry, = _logs(sql, "action = 'insert role_permissions' AND record_key = :k", k=f"{role_id},{perm_id}")
    assert json.loads(entry.description)["key"] == {"role_id": role_id, "permission_id": perm_id}


def test_password_hashes_and_financial_values_never_reach_logs(sql, app):
    from decimal import Decimal

    from app.extensions import db
    from app.models import Customer, Opportunity
    from tests.support.users import as_admin

    (role_id,), = sql("SELECT role_id FROM roles WHERE role_name = 'Admin'")
    sql("INSERT INTO users (username, email, password_hash, role_id) "
        "VALUES ('spy', 'spy@example.com', 'scrypt:SECRET-HASH-ONE', :r)", r=role_id)
    sql("UPDATE users SET password_hash = 'scrypt:SECRET-HASH-TWO', first_name = 'Sam' WHERE username = 'spy'")
    # amounts are ciphertext: they can only be written through the app's ORM, by a user (row-level security)
    with as_admin(app):
        customer = Customer(name="Rich Co", revenue=Decimal("987654.32"))
        db.session.add(customer)
        db.session.commit()
        customer.revenue = Decimal("123456.78")
        db.session.commit()
        deal = Opportunity(customer=customer, name="Deal", value=Decimal("55555.55"))
        db.session.add(deal)
        db.session.commit()
        deal.value = Decimal("44444.44")
        db.session.commit()
        db.session.delete(deal)
        db.session.commit()
    text = "\n".join(r[0] for r in sql("SELECT description FROM logs WHERE description IS NOT NULL"))
    text = re.sub(r"\\\\x[0-9a-f]+", "<envelope>", text)  # ciphertext's hex digits could spell anything
    for secret in ("SECRET-HASH", "987654", "123456", "55555", "44444"):
        assert secret not in text
    user_update, = _logs(sql, "action = 'update users'")
    assert json.loads(user_update.description)["changes"] == {"password_hash": "changed",
                                                              "first_name": ["", "Sam"]}
    revenue_update, = _logs(sql, "action = 'update customers'")
    # the amount's envelope (hex), never the amount: the History opens it for those who may read it
    old, new = json.loads(revenue_update.description)["changes"]["revenue"]
    assert old.startswith("\\x") and new.startswith("\\x") and old != new


@pytest.mark.parametrize("statement", [
    "UPDATE logs SET description = 'forged'",
    "DELETE FROM logs",
    "TRUNCATE logs",
    "UPDATE audit.logs_{month} SET description = 'forged'",
    "DELETE FROM audit.logs_{month}",
    "TRUNCATE audit.logs_{month}",
])
def test_logs_refuse_update_delete_truncate_for_the_app_role(app_sql, sql, statement):
    app_sql("INSERT INTO logs (action, description) VALUES ('evidence', 'keep me')")
    month = f"{utc_today():%Y_%m}"
    with pytest.raises(sqlalchemy.exc.ProgrammingError, match="permission denied|append-only"):
        app_sql(statement.format(month=month))
    assert sql("SELECT description FROM logs WHERE action = 'evidence'") == [("keep me",)]


@pytest.mark.parametrize("statement", ["UPDATE logs SET description = 'x'", "DELETE FROM logs",
                                       "TRUNCATE logs", "TRUNCATE audit.logs_default"])
def test_logs_refuse_changes_even_for_a_superuser(pg, database, sql, statement):
    import psycopg

    sql("INSERT INTO logs (action, description) VALUES ('evidence', 'keep me')")
    name = database.rsplit("/", 1)[1].split("?")[0]
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        pg.execute(statement, database=name)
    assert sql("SELECT count(*) FROM logs WHERE action = 'evidence'")[0][0] == 1


def test_app_role_may_only_insert_and_select_logs(app_sql, sql):
    privileges = dict(app_sql("SELECT p, has_table_privilege(current_user, 'logs', p) "
                          "FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p"))
    assert privileges == {"SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False, "TRUNCATE": False}
    public = sql("SELECT count(*) FROM information_schema.role_table_grants "
                 "WHERE table_name = 'logs' AND grantee = 'PUBLIC'")
    assert public == [(0,)]


def _partition_names(sql) -> set[str]:
    return {r[0] for r in sql("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                              "WHERE i.inhparent = 'logs'::regclass")}


def test_maintain_creates_partitions_ahead_and_drops_old_months_only(app, sql):
    this = month_start(utc_today())
    old, kept = add_months(this, -14), add_months(this, -2)
    for month in (old, kept):
        sql("SELECT crm_logs_partition(:m)", m=month)
        sql("INSERT INTO logs (action, created_at) VALUES ('old entry', :t)", t=dt.datetime.combine(month, dt.time()))
    result = app.test_cli_runner().invoke(args=["crm", "logs", "maintain", "--ahead", "6", "--retention-months", "12"])
    assert result.exit_code == 0, result.output
    names = _partition_names(sql)
    assert f"logs_{old:%Y_%m}" not in names and f"logs_{kept:%Y_%m}" in names
    assert {f"logs_{add_months(this, n):%Y_%m}" for n in range(7)} <= names
    assert sql("SELECT created_at FROM logs WHERE action = 'old entry'") == [(dt.datetime.combine(kept, dt.time()),)]
    maintained, = _logs(sql, "action = 'logs maintain'")
    assert json.loads(maintained.description)["dropped"] == [f"logs_{old:%Y_%m}"]
    assert f"dropped 1 partition (logs_{old:%Y_%m})" in result.output


def test_maintain_keeps_everything_by_default(app, sql):
    month = add_months(month_start(utc_today()), -60)
    sql("SELECT crm_logs_partition(:m)", m=month)
    assert app.test_cli_runner().invoke(args=["crm", "logs", "maintain"]).exit_code == 0
    assert f"logs_{month:%Y_%m}" in _partition_names(sql)


def test_maintain_moves_rows_out_of_the_default_partition(app, sql):
    far = add_months(month_start(utc_today()), 30)
    (log_id,), = sql("INSERT INTO logs (action, created_at) VALUES ('far future', :t) RETURNING log_id",
                     t=dt.datetime.combine(far, dt.time(12)))
    assert sql("SELECT count(*) FROM audit.logs_default")[0][0] == 1
    result = app.test_cli_runner().invoke(args=["crm", "logs", "maintain"])
    assert result.exit_code == 0, result.output
    assert f"created 1 partition (logs_{far:%Y_%m}); moved 1 row out of the default partition" in result.output
    assert sql("SELECT count(*) FROM audit.logs_default")[0][0] == 0
    assert sql("SELECT log_id, tableoid::regclass::text FROM logs WHERE action = 'far future'") == [
        (log_id, f"audit.logs_{far:%Y_%m}")]
    with pytest.raises(sqlalchemy.exc.ProgrammingError, match="append-only|permission denied"):
        sql("TRUNCATE audit.logs_default")  # the new default partition is protected too


def test_maintain_audits_tables_added_later(app, sql):
    sql("CREATE TABLE public.newcomers (newcomer_id serial PRIMARY KEY, api_key text, label text)")
    assert app.test_cli_runner().invoke(args=["crm", "logs", "maintain"]).exit_code == 0
    sql("INSERT INTO newcomers (api_key, label) VALUES ('sk-very-secret', 'first')")
    entry, = _logs(sql, "action = 'insert newcomers'")
    assert json.loads(entry.description)["new"] == {"newcomer_id": 1, "api_key": "[redacted]", "label": "first"}


def test_maintain_reports_exactly_what_it_created_moved_and_dropped(app, sql):
    from app.seed.demo import load_demo_data

    # an instance made by an earlier version: the demo's back-dated log rows were written
    # before their months existed, so they sit in the default partition
    with app.app_context():
        load_demo_data()
    stranded = sql("SELECT count(*) FROM audit.logs_default")[0][0]
    assert stranded >= 10
    this = month_start(utc_today())
    old = add_months(this, -14)
    sql("SELECT crm_logs_partition(:m)", m=old)
    before = _partition_names(sql)

    result = app.test_cli_runner().invoke(args=["crm", "logs", "maintain", "--ahead", "6", "--retention-months", "12"])
    assert result.exit_code == 0, result.output
    after = _partition_names(sql)
    created = sorted(after - before)
    assert len(created) >= 5 + 3  # the demo's months and three more months ahead
    assert sorted(before - after) == [f"logs_{old:%Y_%m}"]
    assert (f"logs: created {len(created)} partitions ({', '.join(created)}); "
            f"moved {stranded} rows out of the default partition; "
            f"dropped 1 partition (logs_{old:%Y_%m}).") in result.output
    assert sql("SELECT count(*) FROM audit.logs_default")[0][0] == 0
    assert sql("SELECT count(*) FROM logs WHERE action = 'demo data' "
               "AND tableoid::regclass::text <> 'audit.logs_' || to_char(created_at, 'YYYY_MM')")[0][0] == 0
    maintained, = _logs(sql, "action = 'logs maintain'")
    assert json.loads(maintained.description) == {
        "created": created, "dropped": [f"logs_{old:%Y_%m}"], "moved_rows": stranded, "audited_tables": [],
        "retention_months": 12}

    again = app.test_cli_runner().invoke(args=["crm", "logs", "maintain", "--ahead", "6"])
    assert again.exit_code == 0, again.output
    assert "logs: created no partitions; moved no rows out of the default partition; dropped no partitions." \
        in again.output
    assert len(_logs(sql, "action = 'logs maintain'")) == 1  # nothing changed, nothing recorded


def test_demo_data_log_rows_land_in_their_months(app, sql):
    from app.ops.bootstrap import bootstrap

    app.config["DEMO_DATA"] = True
    before = _partition_names(sql)
    with app.app_context():
        bootstrap(app, echo=lambda *_: None)
    months = {r[0] for r in sql("SELECT DISTINCT 'logs_' || to_char(created_at, 'YYYY_MM') FROM logs "
                                "WHERE action = 'demo data'")}
    assert len(months) >= 5
    assert sql("SELECT count(*) FROM audit.logs_default")[0][0] == 0
    assert sql("SELECT count(*) FROM logs WHERE action = 'demo data' "
               "AND tableoid::regclass::text <> 'audit.logs_' || to_char(created_at, 'YYYY_MM')")[0][0] == 0
    maintained, = _logs(sql, "action = 'logs maintain'")
    assert months - before <= set(json.loads(maintained.description)["created"])


def test_start_up_with_demo_data_restores_a_missing_audit_trigger_without_waiting_on_itself(app, sql):
    import threading

    from app.ops.bootstrap import bootstrap

    # a trigger to re-create on customers, the table the demo check reads (DROP TRIGGER locks it exclusively)
    sql("DROP TRIGGER customers_audit ON customers")
    app.config["DEMO_DATA"] = True
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with app.app_context():
                bootstrap(app, echo=lambda *_: None)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "start-up waits on its own lock"
    assert errors == []
    assert sql("SELECT count(*) FROM pg_trigger WHERE tgname = 'customers_audit'")[0][0] == 1
    assert sql("SELECT count(*) FROM logs WHERE action = 'insert customers'")[0][0] >= 50  # demo rows audited
