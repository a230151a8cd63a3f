"""Steady under load and faults: real gunicorn on loopback, its own embedded PostgreSQL.

One bounded load run (CRM_LOAD_SECONDS, default 80) of several clients doing
mixed reads and writes through the screens and the REST API. A third of the
way in the database is restarted; two thirds in a gunicorn worker is killed
with SIGKILL. The tests then check what that run recorded: no 5xx but the
outage's 503s, recovery without restarting the app, and every acknowledged
write in the database. A second pair of servers shows sessions, lockout and
sign-in rate limits shared through PostgreSQL.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from app.ops.embedded_db import SUPERUSER, EmbeddedPostgres
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("CRM_LOAD_SECONDS", "80"))  # each phase still has 25 s of load
PASSWORD = "Load-test-admin-password-42"
SECRET = "load-test-secret-key-of-at-least-32-bytes"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def environment(instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MIGRATION_DATABASE_URL")}
    env.update(CRM_INSTANCE_DIR=str(instance), SECRET_KEY=SECRET, CRM_DEMO_DATA="0",
               CRM_ADMIN_PASSWORD=PASSWORD, PYTHONPATH=str(ROOT))
    return env


class Gunicorn:
    """`gunicorn run:app` as in production, on a free loopback port."""

    def __init__(self, instance: Path, workers: int, wait: bool = True) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = instance
        self.log = open(instance / f"gunicorn-{self.port}.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
             "--graceful-timeout", "5", "--timeout", "60", "--no-control-socket", "run:app"],
            cwd=ROOT, env=environment(instance), stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait()

    def wait(self) -> None:
        """Until /health answers 200 (the app is up); stopped, with its log, if that takes 90 s."""
        instance = self.instance
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(self.url + "/health", timeout=5).status == 200:
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"gunicorn did not come up: {(instance / f'gunicorn-{self.port}.log').read_text()[-2000:]}")

    def workers(self) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:  # ppid
                found.append(int(stat.parent.name))
        return found

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Http:
    """A browser-like client: cookies kept, redirects not followed, errors returned as responses."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies),
                                                  self._NoRedirect)

    def request(self, method: str, path: str, data: dict | None = None, json_body: dict | None = None,
                headers: dict | None = None) -> tuple[int, dict, str]:
        """(status, headers, body); status 0 when the connection failed."""
        body, hdrs = None, dict(headers or {})
        if json_body is not None:
            body, hdrs["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif data is not None:
            body = urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=hdrs)
        try:
            with self.opener.open(req, timeout=60) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            return 0, {}, str(exc)

    def login(self, username: str = "admin", password: str = PASSWORD) -> int:
        """The sign-in's status: 302 signed in; FAB also answers a refusal with 302 (back to /login/): 401."""
        status, _, page = self.request("GET", "/login/")
        token = CSRF_RE.search(page).group(1) if status == 200 else ""
        status, headers, _ = self.request("POST", "/login/", {"username": username, "password": password,
                                                              "csrf_token": token})
        return 401 if status == 302 and "/login" in headers.get("Location", "") else status


@dataclass
class Record:
    """What the load run saw."""

    responses: list[tuple[float, str, int, dict, str]] = field(default_factory=list)  # (t, what, status, hdrs, body)
    customers: set[str] = field(default_factory=set)  # names of acknowledged web adds
    activities: set[int] = field(default_factory=set)  # ids of acknowledged API adds
    updates: dict[int, list[tuple[str, bool]]] = field(default_factory=dict)  # id -> [(location, acked)]
    outage: tuple[float, float] = (0.0, 0.0)
    killed: tuple[float, int] = (0.0, 0)
    master_before: int = 0
    master_after: int = 0
    rss_mb: list[float] = field(default_factory=list)
    workers_after: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, what: str, status: int, headers: dict, body: str) -> None:
        with self.lock:
            self.responses.append((time.monotonic(), what, status, headers, body[:300]))


def web_client(base: str, n: int, record: Record, stop: threading.Event) -> None:
    client = Http(base)
    while client.login() != 302 and not stop.is_set():
        time.sleep(1)
    i = 0
    while not stop.is_set():
        i += 1
        for what, path in (("list", "/customers/list/"), ("list", "/activities/list/?_flt_4_type=call"),
                           ("deep", "/customers/list/?page_CustomerView=30")):
            record.saw(what, *client.request("GET", path))
        status, headers, page = client.request("GET", "/customers/add")
        record.saw("form", status, headers, page)
        match = CSRF_RE.search(page) if status == 200 else None
        if not match:
            time.sleep(0.2)
            continue
        name = f"load web {n}-{i}"
        status, headers, body = client.request("POST", "/customers/add", {
            "name": name, "industry": "Retail", "location": "Shenzhen", "csrf_token": match.group(1)})
        record.saw("add", status, headers, body)
        if status == 302:  # FAB redirects after a save; the flash on the next page says which
            follow, headers, page = client.request("GET", "/customers/list/")
            if follow == 200 and "Added Row" in page:
                with record.lock:
                    record.customers.add(name)


def api_client(base: str, n: int, record: Record, stop: threading.Event, customer: int) -> None:
    client = Http(base)
    token = None
    i = 0
    while not stop.is_set():
        if token is None:
            status, headers, body = client.request("POST", "/api/v1/security/login", json_body={
                "username": "admin", "password": PASSWORD, "provider": "db"})
            record.saw("api-login", status, headers, body)
            if status != 200:
                time.sleep(1)
                continue
            token = {"Authorization": "Bearer " + json.loads(body)["access_token"]}
        i += 1
        record.saw("api-read", *client.request("GET", "/api/v1/customers/?q=(page_size:20)", headers=token))
        status, headers, body = client.request("POST", "/api/v1/activities/", json_body={
            "customer": customer, "type": "call", "subject": f"load api {n}-{i}"}, headers=token)
        record.saw("api-add", status, headers, body)
        if status == 201:
            with record.lock:
                record.activities.add(json.loads(body)["id"])
        location = f"moved {n}-{i}"
        status, headers, body = client.request("PUT", f"/api/v1/customers/{customer}",
                                               json_body={"location": location}, headers=token)
        record.saw("api-edit", status, headers, body)
        with record.lock:
            record.updates.setdefault(customer, []).append((location, status == 200))


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """A dedicated embedded PostgreSQL (restarted by these tests only), migrated and bootstrapped."""
    path = tmp_path_factory.mktemp("load")
    server = EmbeddedPostgres(path)
    server.start()
    env = environment(path)
    subprocess.run([sys.executable, "-m", "flask", "--app", "run", "crm", "bootstrap"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    yield path, server
    server.stop()


def owner_rows(server: EmbeddedPostgres, sql: str, *params) -> list[tuple]:
    env = server.libpq_env(SUPERUSER)
    with psycopg.connect(host=env["PGHOST"], user=SUPERUSER, password=env["PGPASSWORD"], dbname="crm") as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def load_run(instance) -> Record:
    path, server = instance
    app_server = Gunicorn(path, workers=3)
    record = Record(master_before=app_server.process.pid)
    customers = [r[0] for r in owner_rows(server, "INSERT INTO customers (name) SELECT 'load seed ' || g "
                                                  "FROM generate_series(1, 300) g RETURNING customer_id")]
    stop = threading.Event()
    threads = [threading.Thread(target=web_client, args=(app_server.url, n, record, stop)) for n in range(3)]
    threads += [threading.Thread(target=api_client, args=(app_server.url, n, record, stop, customers[n]))
                for n in range(2)]
    try:
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(SECONDS / 3)
        down = time.monotonic()
        server.stop()
        time.sleep(5)  # the outage
        server.start()
        record.outage = (down, time.monotonic())
        time.sleep(max(0.0, started + 2 * SECONDS / 3 - time.monotonic()))
        victim = app_server.workers()[0]
        os.kill(victim, signal.SIGKILL)
        record.killed = (time.monotonic(), victim)
        time.sleep(max(0.0, started + SECONDS - time.monotonic()))
    finally:
        stop.set()
        for thread in threads:
            thread.join(90)
        record.master_after = app_server.process.pid if app_server.process.poll() is None else -1
        record.workers_after = app_server.workers()
        for pid in record.workers_after:
            rss = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
            record.rss_mb.append(int(rss.group(1)) / 1024)
        app_server.stop()
    print(f"\nload run: {len(record.responses)} responses in {SECONDS:.0f} s, "
          f"{len(record.customers)} web adds, {len(record.activities)} API adds acknowledged; "
          f"worker RSS after the run: {', '.join(f'{m:.0f} MB' for m in record.rss_mb)}")
    return record


def test_load_run_has_no_server_errors_and_recovers_without_an_app_restart(load_run: Record):
    down, up = load_run.outage
    errors = [(t, what, status, body) for t, what, status, _, body in load_run.responses if status >= 500
              and not (status == 503 and down - 1 <= t <= up + 15)]
    assert errors == []
    assert load_run.master_after == load_run.master_before  # the same gunicorn served throughout
    after = [status for t, _, status, _, _ in load_run.responses if t > up + 15]
    assert after and after.count(200) > len(after) / 2, after[:50]
    assert load_run.customers and load_run.activities
    assert len(load_run.responses) > 200


def test_database_outage_answers_503_with_retry_after(load_run: Record):
    down, up = load_run.outage
    unavailable = [(what, headers, body) for t, what, status, headers, body in load_run.responses if status == 503]
    assert unavailable, "no request met the outage"
    for what, headers, body in unavailable:
        assert headers.get("Retry-After") == "5"
        if what.startswith("api"):
            assert json.loads(body)["status"] == 503
        else:
            assert "Service temporarily unavailable" in body


def test_every_acknowledged_write_is_in_the_database(load_run: Record, instance):
    _, server = instance
    names = {r[0] for r in owner_rows(server, "SELECT name FROM customers WHERE name LIKE 'load web %%'")}
    assert load_run.customers <= names
    ids = {r[0] for r in owner_rows(server, "SELECT activity_id FROM activities WHERE subject LIKE 'load api %%'")}
    assert load_run.activities <= ids
    for customer, attempts in load_run.updates.items():
        acked = [i for i, (_, ok) in enumerate(attempts) if ok]
        assert acked
        (location,), = owner_rows(server, "SELECT location FROM customers WHERE customer_id = %s", customer)
        # the last acknowledged value, or a later attempt that committed before its answer was lost
        assert location in [value for value, _ in attempts[acked[-1]:]]


def test_killed_worker_is_replaced_and_loses_nothing(load_run: Record):
    when, victim = load_run.killed
    assert victim and victim not in load_run.workers_after
    assert len(load_run.workers_after) == 3  # gunicorn replaced the killed worker
    after = [status for t, _, status, _, _ in load_run.responses if t > when + 10]
    assert after and after.count(200) > len(after) / 2


def test_worker_memory_after_the_load_run(load_run: Record):
    assert load_run.rss_mb and max(load_run.rss_mb) < 200, load_run.rss_mb


def test_two_app_servers_share_sessions_lockout_and_rate_limits(instance):
    path, server = instance
    a, b = Gunicorn(path, workers=1, wait=False), Gunicorn(path, workers=1, wait=False)  # both start meanwhile
    try:
        subprocess.run([sys.executable, "-m", "flask", "--app", "run", "crm", "create-user", "--username", "twin",
                        "--email", "twin@example.com", "--role", "Sales Rep", "--password", "Twin-servers-pass-42"],
                       cwd=ROOT, env=environment(path), check=True, capture_output=True)
        a.wait()
        b.wait()
        # a session made on A is valid on B (server-side session row, shared SECRET_KEY)
        browser = Http(a.url)
        assert browser.login() == 302
        browser.base = b.url
        assert browser.request("GET", "/customers/list/")[0] == 200
        assert browser.request("GET", "/logout/")[0] == 302
        browser.base = a.url
        assert browser.request("GET", "/customers/list/")[0] == 302  # logged out on B: gone on A too

        # a fresh rate-limit window, so the count below starts near zero
        if 60 - time.time() % 60 < 25:
            time.sleep(60 - time.time() % 60 + 1)
        # lockout: 5 failures spread over both servers lock the account everywhere
        for i in range(5):
            Http((a, b)[i % 2].url).login("twin", "wrong password")
        assert Http(b.url).login("twin", "Twin-servers-pass-42") != 302
        (locked,), = owner_rows(server, "SELECT locked_until IS NOT NULL FROM users WHERE username = 'twin'")
        assert locked
        # rate limit: the per-address count in PostgreSQL adds up attempts on both servers
        statuses = [Http((a, b)[i % 2].url).login("twin", "wrong password") for i in range(12)]
        assert 429 in statuses and 401 in statuses
        (attempts,), = owner_rows(server, "SELECT max(attempts) FROM login_rate_windows WHERE address = '127.0.0.1'")
        assert attempts > 10
        first_refused = statuses.index(429)
        assert statuses[first_refused:] == [429] * (len(statuses) - first_refused)
    finally:
        a.stop()
        b.stop()
