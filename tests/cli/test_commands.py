"""The operator's command line (contract §4) and the start-up sequence."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_db_url_is_printed_masked(app):
    result = app.test_cli_runner().invoke(args=["crm", "db-url"])
    assert result.exit_code == 0
    assert result.output.startswith("postgresql+psycopg://crm_app:***@")  # the runtime role


def test_create_user_with_role_and_given_password(app, sql):
    result = app.test_cli_runner().invoke(args=[
        "crm", "create-user", "--username", "li.lei", "--email", "li.lei@example.cn",
        "--role", "Admin", "--password", "Correct-horse-9"])
    assert result.exit_code == 0, result.output
    (hashed, role), = sql("SELECT password_hash, role_name FROM users JOIN roles USING (role_id) "
                          "WHERE username = 'li.lei'")
    assert role == "Admin" and check_password_hash(hashed, "Correct-horse-9")


def test_create_user_generates_password_when_not_given(app, sql):
    result = app.test_cli_runner().invoke(args=[
        "crm", "create-user", "--username", "gen", "--email", "gen@example.com", "--role", "Admin"])
    assert result.exit_code == 0, result.output
    password = result.output.strip().rsplit("Password: ", 1)[1]
    assert len(password) >= 16
    assert check_password_hash(sql("SELECT password_hash FROM users WHERE username = 'gen'")[0][0], password)


@pytest.mark.parametrize("args,message", [
    (["--role", "Nope"], "no role 'Nope'"),
    (["--role", "Admin", "--username", "admin"], "exists"),
])
def test_create_user_refuses_bad_input(app, sql, args, message):
    base = {"--username": "x", "--email": "x@example.com"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    cli = ["crm", "create-user", "--password", "Whatever-123456"]
    for flag, value in base.items():
        cli += [flag, value]
    result = app.test_cli_runner().invoke(args=cli)
    assert result.exit_code != 0 and message in result.output
    assert sql("SELECT count(*) FROM users")[0][0] == 1


def test_create_admin_resets_password_and_reenables(app, sql):
    sql("UPDATE users SET active = false WHERE username = 'admin'")
    result = app.test_cli_runner().invoke(args=["crm", "create-admin", "--password", "Brand-new-pass-77"])
    assert result.exit_code == 0 and "reset" in result.output
    (hashed, active), = sql("SELECT password_hash, active FROM users WHERE username = 'admin'")
    assert active and check_password_hash(hashed, "Brand-new-pass-77")


def test_bootstrap_is_idempotent_and_loads_demo_data_once(app, sql):
    from app.ops.bootstrap import bootstrap

    app.config["DEMO_DATA"] = True
    with app.app_context():
        bootstrap(app, echo=lambda *_: None)
    counts = sql("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM activities), "
                 "(SELECT count(DISTINCT status) FROM leads), (SELECT count(DISTINCT stage) FROM opportunities)")[0]
    assert counts[0] >= 50 and counts[1] >= 200 and counts[2] == 5 and counts[3] == 6
    assert sql("SELECT count(*) FROM customers WHERE name ~ '[一-龥]'")[0][0] > 0
    assert sql("SELECT count(*) FROM customers WHERE name ~ '^[A-Za-z ]+$'")[0][0] > 0
    with app.app_context():
        bootstrap(app, echo=lambda *_: None)
    assert sql("SELECT count(*) FROM customers")[0][0] == counts[0]


def _wait_for(url: str, timeout: float = 120) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except Exception:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout}s")


def _serve(instance: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CRM_ADMIN_PASSWORD")}
    env.update(CRM_INSTANCE_DIR=str(instance), PORT=str(port), CRM_WORKERS="2")
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "run", "crm", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _count_customers(instance: Path) -> int:
    from app.ops.embedded_db import EmbeddedPostgres

    server = EmbeddedPostgres(instance)
    started = server.start()
    try:
        return int(server.psql("SELECT count(*) FROM customers"))
    finally:
        if started:
            server.stop()


def _no_job_left_running(instance: Path) -> bool:
    from app.ops.embedded_db import EmbeddedPostgres

    server = EmbeddedPostgres(instance)
    started = server.start()
    try:
        return server.psql("SELECT count(*) FROM scheduled_jobs WHERE last_status = 'running'").strip() == "0"
    finally:
        if started:
            server.stop()


def test_serve_end_to_end_ctrl_c_and_restart_keeps_rows(tmp_path):
    """What `make run` does: embedded database, migrations, admin, demo data, gunicorn; Ctrl-C stops all."""
    instance, port = tmp_path / "instance", free_port()
    proc = _serve(instance, port)
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/health") == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/") as page:
            assert "password" in page.read().decode().lower()
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, output
    assert "Embedded PostgreSQL stopped." in output
    assert "Scheduler: backup-full, backup-incremental" in output  # on by default with the embedded database
    assert _no_job_left_running(instance)  # Ctrl-C stopped the scheduler too: a cut run says "interrupted"
    password_file = instance / "admin-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert password_file.read_text().strip() in output  # printed once, at first start
    assert stat.S_IMODE((instance / "secret-key").stat().st_mode) == 0o600
    assert not (instance / "pgdata" / "postmaster.pid").exists()
    rows = _count_customers(instance)
    assert rows >= 50

    proc = _serve(instance, port)
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/health") == 200
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, output
    assert password_file.read_text().strip() not in output  # not printed again
    assert _count_customers(instance) == rows
