"""An API key's whole life: created (CLI, screen), shown once, stored as a hash, used as its user,
its last use shown, refused at once when revoked (on every app server), expired, or its user disabled."""
from __future__ import annotations

import hashlib
import json
import re

import pytest

from tests.support.api_keys import KEY_RE, bearer, create_key
from tests.support.apps import make_app
from tests.support.cli import crm_cli
from tests.support.client import csrf_token, login
from tests.support.users import ROLE_PASSWORD, make_role_user, make_user


def events(sql, action: str) -> list[dict]:
    rows = sql("SELECT user_id, description FROM logs WHERE action = :a ORDER BY log_id", a=action)
    return [{"user_id": user_id, **json.loads(description)} for user_id, description in rows]


def test_cli_key_life_create_use_list_revoke(app, client, sql):
    make_user(app, "rep")  # a Sales Rep: reads and writes customers, may not delete them
    result = crm_cli(app, "apikey", "create", "--user", "rep", "--name", "shop sync", "--expires-days", "30")
    assert result.exit_code == 0, result.output
    secret = KEY_RE.search(result.stdout).group(0)
    assert "shown only this once" in result.output
    # stored only as its hash: the key itself is nowhere in the table
    (row,), = sql("SELECT to_jsonb(k)::text FROM api_keys k WHERE name = 'shop sync'")
    assert secret not in row and secret[4:] not in row
    (key_hash, prefix, expires_in), = sql("SELECT key_hash, prefix, expires_at - (now() AT TIME ZONE 'utc') "
                                          "FROM api_keys")
    assert key_hash == hashlib.sha256(secret.encode()).hexdigest() and secret.startswith(prefix)
    assert 29 < expires_in.total_seconds() / 86400 <= 30
    assert sql("SELECT count(*) FROM api_key_uses") == [(0,)]

    # acts as its user: a read, a write (the audit log names the user), a refused delete (403)
    assert client.get("/api/v1/customers/", headers=bearer(secret)).status_code == 200
    response = client.post("/api/v1/customers/", json={"name": "Via key"}, headers=bearer(secret))
    assert response.status_code == 201, response.get_json()
    pk = response.get_json()["id"]
    (rep_id,), = sql("SELECT user_id FROM users WHERE username = 'rep'")
    assert sql("SELECT user_id FROM logs WHERE action = 'insert customers'") == [(rep_id,)]
    response = client.delete(f"/api/v1/customers/{pk}", headers=bearer(secret))
    assert response.status_code == 403 and response.get_json()["status"] == 403
    assert sql("SELECT count(*) FROM customers") == [(1,)]

    # the last use is noted (once a minute), the first use of the day logged once
    (last_used,), = sql("SELECT last_used_at FROM api_key_uses")
    used = events(sql, "api key used")
    assert len(used) == 1 and used[0]["user_id"] == rep_id and used[0]["name"] == "shop sync"
    listing = crm_cli(app, "apikey", "list")
    assert listing.exit_code == 0
    line, = [line for line in listing.output.splitlines() if line.startswith("shop sync")]
    assert "rep" in line and prefix in line and f"{last_used:%Y-%m-%d %H:%M}" in line and "active" in line
    assert secret not in listing.output

    # revoked: refused at once; the key's row stays, marked
    assert crm_cli(app, "apikey", "revoke", "shop sync").output == "API key 'shop sync' revoked.\n"
    response = client.get("/api/v1/customers/", headers=bearer(secret))
    assert response.status_code == 401 and response.get_json()["message"] == "The credential has been revoked."
    assert "revoked" in crm_cli(app, "apikey", "list").output
    assert "already revoked" in crm_cli(app, "apikey", "revoke", "shop sync").output
    # created and revoked: the audited row (made on the command line: no app user); use is not a change
    created, = events(sql, "insert api_keys")
    revoked, = events(sql, "update api_keys")
    assert created["new"]["name"] == "shop sync" and created["new"]["user_id"] == rep_id
    assert created["new"]["key_hash"] == "[redacted]" and created["via"].endswith(" crm apikey create")
    assert list(revoked["changes"]) == ["revoked_at"] and revoked["via"].endswith(" crm apikey revoke")
    assert created["user_id"] is None and revoked["user_id"] is None
    assert sql("SELECT count(*) FROM logs WHERE description LIKE :s", s=f"%{secret[4:]}%") == [(0,)]


def test_a_day_of_use_is_logged_once_and_last_use_written_at_most_once_a_minute(app, client, sql):
    secret = create_key(app)
    for _ in range(3):
        assert client.get("/api/v1/customers/", headers=bearer(secret)).status_code == 200
    assert len(events(sql, "api key used")) == 1
    (first,), = sql("SELECT last_used_at FROM api_key_uses")
    assert client.get("/api/v1/leads/", headers=bearer(secret)).status_code == 200
    assert sql("SELECT last_used_at FROM api_key_uses") == [(first,)]  # within the minute: not written again
    sql("UPDATE api_key_uses SET last_used_at = last_used_at - interval '1 day'")  # last used yesterday
    assert client.get("/api/v1/customers/", headers=bearer(secret)).status_code == 200
    assert len(events(sql, "api key used")) == 2
    assert sql("SELECT last_used_at > :t - interval '1 minute' FROM api_key_uses", t=first) == [(True,)]
    assert events(sql, "update api_keys") == []  # use does not change the audited row


def test_revocation_is_refused_at_once_by_every_app_server(pg, database, app, client, sql):
    secret = create_key(app, "admin", "two servers")
    other = make_app(pg, database)  # a second app server on the same database
    try:
        other_client = other.test_client()
        assert other_client.get("/api/v1/customers/", headers=bearer(secret)).status_code == 200
        assert client.get("/api/v1/customers/", headers=bearer(secret)).status_code == 200
        assert crm_cli(app, "apikey", "revoke", "two servers").exit_code == 0
        for server in (other_client, client):
            response = server.post("/api/v1/customers/", json={"name": "Too late"}, headers=bearer(secret))
            assert response.status_code == 401 and "invalid_token" in response.headers["WWW-Authenticate"]
        assert sql("SELECT count(*) FROM customers") == [(0,)]
    finally:
        from app.extensions import db

        with other.app_context():
            db.engine.dispose()


def test_an_expired_key_and_a_disabled_users_key_are_refused(app, client, sql):
    make_user(app, "rep")
    expiring = create_key(app, "rep", "expiring", "--expires-days", "1")
    assert client.get("/api/v1/customers/", headers=bearer(expiring)).status_code == 200
    sql("UPDATE api_keys SET expires_at = now() AT TIME ZONE 'utc' - interval '1 second'")
    response = client.get("/api/v1/customers/", headers=bearer(expiring))
    assert response.status_code == 401 and response.get_json()["message"] == "The credential has expired."
    assert "expired" in crm_cli(app, "apikey", "list").output

    other = create_key(app, "rep", "rep's other")
    assert client.get("/api/v1/customers/", headers=bearer(other)).status_code == 200
    assert crm_cli(app, "user", "disable", "rep").exit_code == 0
    response = client.get("/api/v1/customers/", headers=bearer(other))
    assert response.status_code == 401 and response.get_json()["message"] == "The credential's user is disabled."
    assert crm_cli(app, "user", "enable", "rep").exit_code == 0
    assert client.get("/api/v1/customers/", headers=bearer(other)).status_code == 200


@pytest.mark.parametrize("args, message", [
    (["--user", "ghost", "--name", "x"], "There is no user ghost."),
    (["--user", "admin", "--name", "  "], "Give the key a name"),
    (["--user", "admin", "--name", "a\x07b"], "control characters"),
    (["--user", "admin", "--name", "n" * 101], "longer than 100"),
    (["--user", "admin", "--name", "x", "--expires-days", "0"], "from 1 to 3650"),
    (["--user", "admin", "--name", "x", "--expires-days", "soon"], "from 1 to 3650"),
    (["--user", "admin", "--name", "taken"], "already an API key named taken"),
])
def test_cli_refuses_bad_input_and_writes_nothing(app, sql, args, message):
    create_key(app, "admin", "taken")
    result = crm_cli(app, "apikey", "create", *args)
    assert result.exit_code == 1 and message in result.output, result.output
    assert not KEY_RE.search(result.output)
    assert sql("SELECT name FROM api_keys") == [("taken",)]
    assert len(events(sql, "insert api_keys")) == 1
    unknown = crm_cli(app, "apikey", "revoke", "ghost")
    assert unknown.exit_code == 1 and "There is no API key named ghost." in unknown.output


def test_a_disabled_user_gets_no_new_key(app, sql):
    make_user(app, "rep")
    assert crm_cli(app, "user", "disable", "rep").exit_code == 0
    result = crm_cli(app, "apikey", "create", "--user", "rep", "--name", "x")
    assert result.exit_code == 1 and "disabled" in result.output
    assert sql("SELECT count(*) FROM api_keys") == [(0,)]


# ---------------------------------------------------------------- the /apikeys/ screen

def test_screen_key_life_create_shown_once_use_last_use_revoke(app, admin, sql):
    make_user(app, "rep")
    page = admin.get("/apikeys/add")
    assert page.status_code == 200 and 'value="rep"' in page.get_data(as_text=True)
    token = csrf_token(admin, "/apikeys/add")
    response = admin.post("/apikeys/add", data={"username": "rep", "name": "From the screen", "expires_days": "",
                                                "csrf_token": token})
    assert response.status_code == 200
    secret = KEY_RE.search(re.sub(r"<[^>]+>", "\n", response.get_data(as_text=True))).group(0)
    assert response.headers["Cache-Control"].startswith("no-store")
    (admin_id,), = sql("SELECT user_id FROM users WHERE username = 'admin'")
    assert sql("SELECT created_by, expires_at FROM api_keys") == [(admin_id, None)]
    assert events(sql, "insert api_keys")[0]["user_id"] == admin_id

    listing = admin.get("/apikeys/").get_data(as_text=True)
    assert "From the screen" in listing and secret not in listing and secret[:12] in listing
    assert "never" in listing  # not used yet

    client = app.test_client()
    assert client.get("/api/v1/contacts/", headers=bearer(secret)).status_code == 200
    (last_used,), = sql("SELECT last_used_at FROM api_key_uses")
    from app.i18n.formatting import datetime_text

    with app.test_request_context():
        shown = datetime_text(last_used)
    assert shown in admin.get("/apikeys/").get_data(as_text=True)

    (key_id,), = sql("SELECT api_key_id FROM api_keys")
    response = admin.post(f"/apikeys/revoke/{key_id}", data={"csrf_token": csrf_token(admin, "/apikeys/")})
    assert response.status_code == 303
    assert client.get("/api/v1/contacts/", headers=bearer(secret)).status_code == 401
    assert 'data-state="revoked"' in admin.get("/apikeys/").get_data(as_text=True)
    revoked, = events(sql, "update api_keys")
    assert revoked["user_id"] == admin_id and revoked["via"] == f"web POST /apikeys/revoke/{key_id}"


def test_screen_refuses_bad_input_and_forged_posts(app, admin, sql):
    token = csrf_token(admin, "/apikeys/add")
    for data, message in (({"username": "ghost", "name": "x"}, "There is no user ghost."),
                          ({"username": "admin", "name": ""}, "Give the key a name"),
                          ({"username": "admin", "name": "x", "expires_days": "-3"}, "from 1 to 3650")):
        response = admin.post("/apikeys/add", data={**data, "csrf_token": token})
        assert response.status_code == 400 and message in response.get_data(as_text=True)
        assert not KEY_RE.search(response.get_data(as_text=True))
    assert admin.post("/apikeys/add", data={"username": "admin", "name": "forged"}).status_code == 400
    assert admin.post("/apikeys/revoke/999", data={"csrf_token": token}).status_code == 404
    assert sql("SELECT count(*) FROM api_keys") == [(0,)]


@pytest.mark.parametrize("role", ["Sales Manager", "Sales Rep", "Support Agent", "Auditor"])
def test_only_admins_have_the_api_keys_screen(app, client, sql, role):
    secret = create_key(app, "admin", "admin's")
    username = make_role_user(app, role)
    login(client, username, ROLE_PASSWORD)
    assert client.get("/apikeys/").status_code == 403
    assert client.get("/apikeys/add").status_code == 403
    (key_id,), = sql("SELECT api_key_id FROM api_keys")
    token = csrf_token(client, "/")
    assert client.post("/apikeys/add", data={"username": username, "name": "mine", "csrf_token": token}
                       ).status_code == 403
    assert client.post(f"/apikeys/revoke/{key_id}", data={"csrf_token": token}).status_code == 403
    assert sql("SELECT name, revoked_at FROM api_keys") == [("admin's", None)]
    assert "/apikeys/" not in client.get("/").get_data(as_text=True)
    assert secret


def test_admin_role_has_the_screen_in_its_menu(admin):
    assert 'href="/apikeys/"' in admin.get("/").get_data(as_text=True)
