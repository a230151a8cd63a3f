"""Webhooks end to end: a real PostgreSQL, the app's screens and API, a local receiver on port 0."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy.engine import make_url

from app.ops.embedded_db import RUNTIME_ROLE
from app.webhooks.delivery import deliver_due
from tests.support.cli import crm_cli
from tests.support.client import csrf_token, login
from tests.support.htmlforms import form_fields
from tests.support.users import ADMIN_ID, ROLE_PASSWORD, make_role_user
from tests.support.webhook_receiver import receiver  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec-test-secret"
CUSTOMER_EVENTS = "customers.created,customers.updated,customers.deleted"


def subscribe(app, url: str, events: str = CUSTOMER_EVENTS, user: str = "admin") -> int:
    result = crm_cli(app, "webhook", "add", url, "--events", events, "--secret", SECRET, "--user", user)
    assert result.exit_code == 0, result.output
    return int(result.output.split()[1])


def add_customer(admin, name: str, revenue: str = "1234.50") -> int:
    fields = form_fields(admin.get("/customers/add").get_data(as_text=True))
    response = admin.post("/customers/add", data={**fields, "name": name, "industry": "Retail",
                                                  "revenue": revenue, "csrf_token": csrf_token(admin, "/customers/add")})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(response.headers["Location"].rstrip("/").split("/")[-1]) if "/show/" in response.headers[
        "Location"] else None


def deliveries(sql):
    return sql("SELECT delivery_key, event, status, attempts, created_at, next_attempt_at, last_status, "
               "last_answer, record_id FROM webhook_deliveries ORDER BY delivery_id")


def verify(secret: str, body: bytes, header: str) -> bool:
    """What docs/api.md tells a receiver to do."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


# ------------------------------------------------------------------ delivery and payload
def test_change_on_the_screen_is_posted_signed_as_the_api_returns_it(app, admin, sql, receiver):
    subscribe(app, receiver.url)
    add_customer(admin, "Webhook 客户")
    (customer_id,), = sql("SELECT customer_id FROM customers WHERE name = 'Webhook 客户'")
    assert deliver_due(app) == 1
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.path == "/hook"
    assert got.headers["X-CRM-Event"] == "customers.created"
    assert got.headers["Content-Type"] == "application/json"
    assert verify(SECRET, got.body, got.headers["X-CRM-Signature"])
    assert not verify("another secret", got.body, got.headers["X-CRM-Signature"])
    payload = json.loads(got.body)
    (key, _event, status, attempts, *_rest), = deliveries(sql)
    assert got.headers["X-CRM-Delivery"] == str(key) == payload["delivery"]
    assert (status, attempts) == ("delivered", 1)
    assert payload["event"] == "customers.created" and payload["id"] == customer_id
    api = admin.get(f"/api/v1/customers/{customer_id}").get_json()["result"]
    assert payload["data"] == api  # amounts decrypted, every column as the API shows it
    assert payload["data"]["name"] == "Webhook 客户"
    assert deliver_due(app) == 0  # nothing due any more


def test_plain_sql_update_and_delete_are_events_with_the_row_as_it_was(app, sql, receiver):
    subscribe(app, receiver.url, "customers.updated,customers.deleted")
    (customer_id,), = sql("INSERT INTO customers (name) VALUES ('Before') RETURNING customer_id")
    sql("UPDATE customers SET name = 'After' WHERE customer_id = :c", c=customer_id)
    sql("UPDATE customers SET name = 'After' WHERE customer_id = :c", c=customer_id)  # no change: no event
    sql("DELETE FROM customers WHERE customer_id = :c", c=customer_id)
    assert [r.event for r in deliveries(sql)] == ["customers.updated", "customers.deleted"]
    assert deliver_due(app) == 2
    payloads = [json.loads(r.body) for r in receiver.received]
    assert [(p["event"], p["id"], p["data"]["name"]) for p in payloads] == [
        ("customers.updated", customer_id, "After"), ("customers.deleted", customer_id, "After")]
    assert sql("SELECT count(*) FROM webhook_deliveries WHERE snapshot IS NOT NULL")[0][0] == 0


def test_rolled_back_change_sends_nothing(app, admin, sql, receiver):
    from app.extensions import db
    from app.models import Customer
    from tests.support.users import as_admin

    subscribe(app, receiver.url)
    # as the admin: row-level security refuses a record written without a user
    with as_admin(app):
        db.session.add(Customer(name="Never committed"))
        db.session.flush()
        assert db.session.execute(db.text("SELECT count(*) FROM webhook_deliveries")).scalar() == 1
        db.session.rollback()
    # a screen edit the database refuses is rolled back too: nothing half-written, nothing queued
    (customer_id,), = sql("INSERT INTO customers (name) VALUES ('Kept') RETURNING customer_id")
    sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'A', 'B')", c=customer_id)
    sql("DELETE FROM webhook_deliveries")
    response = admin.post(f"/customers/delete/{customer_id}", data={"csrf_token": csrf_token(admin, "/")})
    assert response.status_code in (200, 302)
    assert sql("SELECT count(*) FROM customers WHERE customer_id = :c", c=customer_id)[0][0] == 1
    assert deliveries(sql) == []
    assert deliver_due(app) == 0
    assert receiver.received == []


def test_a_503_is_retried_later_with_the_same_delivery_id_and_growing_delays(app, sql, receiver):
    receiver.answers = [(503, b"busy"), (503, b"still busy"), (200, b"ok")]
    subscribe(app, receiver.url)
    sql("INSERT INTO customers (name) VALUES ('Retry me')")
    (_key, _e, _s, _a, created, _due, *_), = deliveries(sql)
    t0 = created + dt.timedelta(seconds=1)
    assert deliver_due(app, now=t0) == 1
    (_key, _e, status, attempts, _c, first_retry, last_status, answer, _r), = deliveries(sql)
    assert (status, attempts, last_status, answer) == ("pending", 1, 503, "busy")
    assert t0 < first_retry <= t0 + dt.timedelta(minutes=1)  # the first retry within a minute
    assert deliver_due(app, now=first_retry - dt.timedelta(seconds=1)) == 0  # not yet due
    assert deliver_due(app, now=first_retry) == 1
    (_key, _e, status, attempts, _c, second_retry, *_), = deliveries(sql)
    assert (status, attempts) == ("pending", 2)
    assert second_retry - first_retry > first_retry - t0  # the delay grows
    assert deliver_due(app, now=second_retry) == 1
    (_key, _e, status, attempts, *_), = deliveries(sql)
    assert (status, attempts) == ("delivered", 3)
    ids = {r.headers["X-CRM-Delivery"] for r in receiver.received}
    bodies = {r.body for r in receiver.received}
    assert len(receiver.received) == 3 and len(ids) == 1 and len(bodies) == 1


def test_after_24_hours_of_errors_it_is_failed_and_shown_on_the_screen(app, admin, sql, receiver):
    receiver.answers = [(500, b"boom: " + b"x" * 2000)]
    subscribe(app, receiver.url)
    sql("INSERT INTO customers (name) VALUES ('Unlucky')")
    (_key, _e, _s, _a, created, now, *_), = deliveries(sql)
    for _ in range(100):
        deliver_due(app, now=now)
        (_key, _e, status, attempts, _c, now, last_status, answer, _r), = deliveries(sql)
        if status != "pending":
            break
    assert status == "failed" and last_status == 500 and answer.startswith("boom: ")
    assert len(answer) <= 500  # truncated
    assert 10 <= attempts == len(receiver.received) <= 30
    last = sql("SELECT last_attempt_at FROM webhook_deliveries")[0][0]
    assert last == created + dt.timedelta(hours=24)  # a last try at the end of the 24 hours
    assert deliver_due(app, now=created + dt.timedelta(days=3)) == 0
    page = admin.get("/webhooks/").get_data(as_text=True)
    assert 'data-status="failed"' in page and "<b>500</b>" in page and "boom: xxx" in page


def test_a_change_committed_by_an_app_killed_before_delivery_is_delivered_after_restart(
        pg, database, app, sql, receiver):
    subscribe(app, receiver.url)
    name = make_url(database).database
    script = (
        "import os, sys, time\n"
        "from app import create_app\nfrom config import TestConfig\n"
        "from app.audit.context import acting_as\n"
        "from app.extensions import db\nfrom app.models import Customer\n"
        "app = create_app(TestConfig, DATABASE_URL=os.environ['T_DB'], INSTANCE_DIR=os.environ['T_INSTANCE'],"
        " SECRET_KEY='test-secret-key-of-at-least-32-bytes!')\n"
        "with app.app_context():\n"  # a record is written by a user (row-level security): the admin
        f'    admin = db.session.scalar(db.text("SELECT {ADMIN_ID}"))\n'
        "    with acting_as((admin, 'test')):\n"
        "        db.session.add(Customer(name='Committed then killed', revenue=99))\n"
        "        db.session.commit()\n"
        "    print('committed', flush=True)\n"
        "    time.sleep(600)\n")
    env = {**os.environ, "T_DB": pg.url(name, RUNTIME_ROLE), "T_INSTANCE": str(pg.instance)}
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "committed", proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert receiver.received == []
    from tests.support.apps import make_app

    fresh = make_app(pg, database)  # a new process's app: nothing of the killed one survives but the database
    assert deliver_due(fresh) == 1
    payload = json.loads(receiver.received[0].body)
    assert payload["data"]["name"] == "Committed then killed" and float(payload["data"]["revenue"]) == 99


def test_several_runners_at_once_send_each_delivery_once(app, sql, receiver):
    receiver.delay = 0.2
    subscribe(app, receiver.url)
    sql("INSERT INTO customers (name) SELECT 'Bulk ' || i FROM generate_series(1, 6) AS i")
    counts: list[int] = []
    runners = [threading.Thread(target=lambda: counts.append(deliver_due(app))) for _ in range(3)]
    for t in runners:
        t.start()
    for t in runners:
        t.join()
    assert sum(counts) == 6
    ids = [r.headers["X-CRM-Delivery"] for r in receiver.received]
    assert len(ids) == 6 == len(set(ids))
    assert {r.status for r in deliveries(sql)} == {"delivered"}


# ------------------------------------------------------------------ role limits
def test_payload_follows_the_owners_role(app, sql, receiver):
    agent = make_role_user(app, "Support Agent")  # reads customers, not opportunities
    subscribe(app, receiver.url, "customers.created,opportunities.created", user=agent)
    (customer_id,), = sql("INSERT INTO customers (name) VALUES ('Seen') RETURNING customer_id")
    sql("INSERT INTO opportunities (customer_id, name) VALUES (:c, 'Hidden')", c=customer_id)
    assert deliver_due(app) == 1
    assert [json.loads(r.body)["event"] for r in receiver.received] == ["customers.created"]
    statuses = {r.event: (r.status, r.attempts) for r in deliveries(sql)}
    assert statuses == {"customers.created": ("delivered", 1), "opportunities.created": ("skipped", 0)}
    # the role loses customers too: nothing more is sent
    sql("DELETE FROM role_permissions WHERE role_id = (SELECT role_id FROM roles WHERE role_name = 'Support Agent')")
    sql("INSERT INTO customers (name) VALUES ('Not any more')")
    assert deliver_due(app) == 0 and len(receiver.received) == 1


# ------------------------------------------------------------------ URLs
def test_metadata_and_non_http_urls_are_refused(app, admin, sql):
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook", "http://[::ffff:169.254.1.1]/",
                "http://2852039166/", "ftp://example.com/hook", "file:///etc/passwd", "http:///nohost",
                "http://no-such-host.invalid/hook"):
        result = crm_cli(app, "webhook", "add", url, "--events", "customers.created", "--secret", SECRET)
        assert result.exit_code != 0, url
        page = admin.post("/webhooks/add", data={"url": url, "events": ["customers.created"], "secret": SECRET,
                                                 "csrf_token": csrf_token(admin, "/webhooks/")})
        assert page.status_code == 400, url
        assert 'id="webhook-error"' in page.get_data(as_text=True)
    assert "link-local" in crm_cli(app, "webhook", "add", "http://169.254.169.254/", "--events",
                                   "customers.created", "--secret", SECRET).output
    assert sql("SELECT count(*) FROM webhook_subscriptions")[0][0] == 0


def test_a_metadata_address_is_refused_at_send_time_too(app, sql, receiver):
    webhook_id = subscribe(app, receiver.url)
    # as if the name now pointed at the metadata service (the check at add time passed)
    sql("UPDATE webhook_subscriptions SET url = 'http://169.254.169.254/hook' WHERE webhook_id = :w", w=webhook_id)
    sql("INSERT INTO customers (name) VALUES ('Exfiltrate me')")
    assert deliver_due(app) == 1
    (_k, _e, status, attempts, _c, _n, last_status, answer, _r), = deliveries(sql)
    assert (status, attempts, last_status) == ("pending", 1, None) and "link-local" in answer


def test_unknown_events_and_blank_secrets_are_refused(app, receiver, sql):
    for events, secret in (("customers.created,users.created", SECRET), ("", SECRET),
                           ("customers.created", " padded ")):
        result = crm_cli(app, "webhook", "add", receiver.url, "--events", events, "--secret", secret)
        assert result.exit_code != 0 and "Error" in result.output, (events, secret)
    assert sql("SELECT count(*) FROM webhook_subscriptions")[0][0] == 0


# ------------------------------------------------------------------ screen, CLI, audit
def test_screen_for_admins_only(app, admin, client):
    assert admin.get("/webhooks/").status_code == 200
    for role in ("Auditor", "Sales Manager", "Support Agent"):
        username = make_role_user(app, role)
        other = app.test_client()
        login(other, username, ROLE_PASSWORD)
        assert other.get("/webhooks/").status_code == 403, role
        token = csrf_token(other, "/")
        assert other.post("/webhooks/add", data={"url": "http://127.0.0.1:9/", "events": ["customers.created"],
                                                 "secret": SECRET, "csrf_token": token}).status_code == 403
        assert other.post("/webhooks/1/delete", data={"csrf_token": token}).status_code == 403


def test_add_deactivate_delete_on_the_screen_are_audited(app, admin, sql, receiver):
    page = admin.get("/webhooks/").get_data(as_text=True)
    assert 'name="events" value="service_tickets.deleted"' in page
    response = admin.post("/webhooks/add", data={"url": receiver.url, "events": ["customers.created", "leads.deleted"],
                                                 "secret": SECRET, "csrf_token": csrf_token(admin, "/webhooks/")})
    assert response.status_code == 302
    (webhook_id, events, secret, owner, active), = sql(
        "SELECT webhook_id, events, secret, owner_id, active FROM webhook_subscriptions")
    assert events == ["customers.created", "leads.deleted"] and active
    assert SECRET.encode() not in bytes(secret)  # sealed with the key ring
    assert owner == sql("SELECT user_id FROM users WHERE username = 'admin'")[0][0]
    token = csrf_token(admin, "/webhooks/")
    assert admin.post(f"/webhooks/{webhook_id}/active", data={"active": "0", "csrf_token": token}).status_code == 302
    sql("INSERT INTO customers (name) VALUES ('While off')")
    assert deliveries(sql) == []  # an inactive webhook records no events
    assert admin.post(f"/webhooks/{webhook_id}/delete", data={"csrf_token": token}).status_code == 302
    assert sql("SELECT count(*) FROM webhook_subscriptions")[0][0] == 0
    assert admin.post("/webhooks/999/delete", data={"csrf_token": token}).status_code == 404
    logged = sql("SELECT action, user_id, description FROM logs WHERE table_name = 'webhook_subscriptions' "
                 "ORDER BY log_id")
    actions = [a for a, _u, _d in logged]
    for action in ("webhook added", "webhook deactivated", "webhook removed"):
        assert action in actions
    assert all(SECRET not in (d or "") for _a, _u, d in logged)


def test_cli_add_list_remove_deliver(app, sql, receiver):
    webhook_id = subscribe(app, receiver.url, "contacts.created")
    listed = crm_cli(app, "webhook", "list").output
    assert f"{webhook_id}\tactive\tadmin" in listed and receiver.url in listed and "contacts.created" in listed
    (customer_id,), = sql("INSERT INTO customers (name) VALUES ('Parent') RETURNING customer_id")
    sql("INSERT INTO contacts (customer_id, first_name, last_name) VALUES (:c, 'Ada', 'L')", c=customer_id)
    result = crm_cli(app, "webhook", "deliver")
    assert result.exit_code == 0 and "1 delivery attempt" in result.output
    assert json.loads(receiver.received[0].body)["data"]["first_name"] == "Ada"
    assert crm_cli(app, "webhook", "remove", str(webhook_id)).exit_code == 0
    assert crm_cli(app, "webhook", "remove", str(webhook_id)).exit_code != 0
    assert "no webhooks" in crm_cli(app, "webhook", "list").output
    assert [a for (a,) in sql("SELECT action FROM logs WHERE action LIKE 'webhook %' ORDER BY log_id")] == [
        "webhook added", "webhook removed"]


def test_the_screen_in_chinese_has_no_english_ui_words_left(app, admin, sql, receiver):
    from tests.support.catalogs import english_ui_words
    from tests.support.client import switch_language
    from tests.support.pages import visible_texts

    receiver.answers = [(503, b"busy")]
    subscribe(app, receiver.url)
    sql("INSERT INTO customers (name) VALUES ('Shown')")
    deliver_due(app)
    switch_language(admin, "zh")
    html = admin.get("/webhooks/").get_data(as_text=True)
    assert "Webhook 推送" in html and "待发送" in html
    assert sorted({t for t in visible_texts(html) if t in english_ui_words()} - {"Admin", "User"}) == []


def test_no_answer_within_the_timeout_is_retried(app, sql, receiver):
    app.config["WEBHOOK_TIMEOUT"] = 0.5
    receiver.delay = 2
    subscribe(app, receiver.url)
    sql("INSERT INTO customers (name) VALUES ('Slow receiver')")
    assert deliver_due(app) == 1
    (_k, _e, status, attempts, _c, retry_at, last_status, answer, _r), = deliveries(sql)
    assert (status, attempts, last_status) == ("pending", 1, None) and "no answer within 0.5 s" in answer
    receiver.delay = 0
    assert deliver_due(app, now=retry_at) == 1
    assert deliveries(sql)[0].status == "delivered"
    ids = [r.headers["X-CRM-Delivery"] for r in receiver.received]
    assert len(ids) == 2 and len(set(ids)) == 1


def test_a_csv_import_is_one_event_per_row(app, admin, sql, receiver):
    import io
    import re

    subscribe(app, receiver.url, "customers.created")
    csv = "Name,Industry,Location,Revenue\r\nAcme 公司,Retail,深圳,\"1,234.50\"\r\nBeta,,,\r\n".encode()
    page = admin.post("/customers/import/", data={
        "csrf_token": csrf_token(admin, "/customers/import/"), "encoding": "auto",
        "file": (io.BytesIO(csv), "data.csv")}, content_type="multipart/form-data").get_data(as_text=True)
    assert deliveries(sql) == []  # the dry run writes nothing
    action = re.search(r'action="(/\w+/import/[^"]+)"', page).group(1)
    assert admin.post(action, data={"csrf_token": csrf_token(admin, "/")}).status_code == 302
    assert deliver_due(app) == 2
    data = sorted((json.loads(r.body)["data"] for r in receiver.received), key=lambda d: d["name"])
    assert [(d["name"], d["revenue"]) for d in data] in ([("Acme 公司", "1234.50"), ("Beta", None)],
                                                         [("Acme 公司", 1234.5), ("Beta", None)])


def test_the_scheduler_sends_a_committed_change_within_seconds(app, sql, receiver):
    """The catalogue's `webhooks` job, run by the scheduler's background runner as `crm serve` runs it."""
    import time

    from app.scheduler.catalog import jobs_for
    from app.scheduler.runner import Runner

    subscribe(app, receiver.url)
    runner = Runner(app, [job for job in jobs_for(app.config) if job.name == "webhooks"])
    runner.start()
    try:
        time.sleep(1)  # the runner is idle, waiting for its next due time
        sql("INSERT INTO customers (name) VALUES ('Scheduled Ltd')")
        committed = time.monotonic()
        while not receiver.received and time.monotonic() - committed < 15:
            time.sleep(0.1)
        waited = time.monotonic() - committed
    finally:
        assert runner.stop(timeout=10) == []
    assert [r.headers["X-CRM-Event"] for r in receiver.received] == ["customers.created"]
    assert json.loads(receiver.received[0].body)["data"]["name"] == "Scheduled Ltd"
    assert waited < 10  # the job runs every 5 s
    assert sql("SELECT status FROM webhook_deliveries") == [("delivered",)]


def test_settled_deliveries_older_than_the_keep_days_are_pruned_by_the_webhooks_job(app, sql):
    from app.scheduler.tasks import send_webhooks
    from app.webhooks.delivery import prune_settled

    subscribe(app, "http://127.0.0.1:9/never-sent")
    sql("UPDATE webhook_subscriptions SET active = false")  # nothing is sent: only the pruning runs
    old, recent = "now() AT TIME ZONE 'utc' - interval '40 days'", "now() AT TIME ZONE 'utc' - interval '10 days'"
    for status, created in (("delivered", old), ("failed", old), ("skipped", old), ("pending", old),
                            ("delivered", recent), ("failed", recent)):
        sql("INSERT INTO webhook_deliveries (webhook_id, event, table_name, record_id, status, created_at) "
            f"SELECT webhook_id, 'customers.created', 'customers', 1, :s, {created} FROM webhook_subscriptions",
            s=status)
    assert "3 old deliveries pruned" in send_webhooks(app)
    left = sql("SELECT status, created_at < now() AT TIME ZONE 'utc' - interval '30 days' FROM webhook_deliveries "
               "ORDER BY delivery_id")
    assert left == [("pending", True), ("delivered", False), ("failed", False)]  # a pending one is still due
    assert "pruned" not in send_webhooks(app)  # once an hour, not every 5 s
    app.config["WEBHOOK_KEEP_DAYS"] = 5  # configurable (CRM_WEBHOOK_KEEP_DAYS)
    assert prune_settled(app) == 2
