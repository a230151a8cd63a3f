"""Sign-in and sessions (OWASP ASVS 4.0.3 level 2): lockout, rate limit, generic message,
password policy, CSRF, idle timeout, absolute lifetime, logout, disabled users, JWT expiry."""
from __future__ import annotations

import datetime as dt
import time

from werkzeug.security import check_password_hash

from tests.support.apps import ADMIN_PASSWORD
from tests.support.client import csrf_token, login
from tests.support.htmlforms import form_fields
from tests.support.users import USER_PASSWORD, make_user

GENERIC = "Wrong username or password."
DISABLED = "This account is disabled. Ask an administrator to enable it."


def rep_signed_in(app, sql):
    """A Sales Rep signed in on their own client, and their user id."""
    make_user(app)
    rep = app.test_client()
    login(rep, "rep", USER_PASSWORD)
    assert signed_in(rep)
    return rep, sql("SELECT user_id FROM users WHERE username = 'rep'")[0][0]


def login_message(client) -> str:
    return client.get("/login/").get_data(as_text=True)


def signed_in(client) -> bool:
    response = client.get("/customers/list/")
    return response.status_code == 200


ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}


def login_from(client, address: str, username: str, password: str):
    token = csrf_token(client, "/login/")
    return client.post("/login/", data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_five_failures_lock_that_address_out_of_that_account_for_fifteen_minutes(app, client, sql):
    make_user(app)
    for attempt in range(5):
        assert login(client, "rep", f"wrong password {attempt}").status_code == 302
    (count, until), = sql("SELECT a.failures, a.locked_until - (now() AT TIME ZONE 'utc') FROM login_addresses a "
                          "JOIN users USING (user_id) WHERE username = 'rep' AND address = '127.0.0.1'")
    assert count == 5 and dt.timedelta(minutes=14) < until <= dt.timedelta(minutes=15)
    # the right password is refused from this address, with the same message as a wrong one
    login(client, "rep", USER_PASSWORD)
    assert GENERIC in login_message(client)
    assert not signed_in(client)
    # the API's JWT login obeys the same lockout
    api = client.post("/api/v1/security/login",
                      json={"username": "rep", "password": USER_PASSWORD, "provider": "db"})
    assert api.status_code == 401
    # after the lock expires the right password works and the counts start again
    sql("UPDATE login_addresses SET locked_until = (now() AT TIME ZONE 'utc') - interval '1 second'")
    sql("UPDATE users SET locked_until = NULL WHERE username = 'rep'")
    login(client, "rep", USER_PASSWORD)
    assert signed_in(client)
    assert sql("SELECT fail_login_count, locked_until FROM users WHERE username = 'rep'") == [(0, None)]
    assert sql("SELECT failures, locked_until FROM login_addresses") == [(0, None)]


def test_an_attacker_cannot_lock_the_admin_out(app, client, sql):
    """Failures from other addresses neither lock the admin's own address nor delay it."""
    assert login(client).status_code == 302  # the admin has signed in from 127.0.0.1 before
    client.get("/logout/")
    attacker = app.test_client()
    (before,), = sql("SELECT now() AT TIME ZONE 'utc'")
    for i in range(5):
        login_from(attacker, "203.0.113.1", "admin", f"guess number {i}")
    # the 5th failure delays the account (by a second: compared with a time before it, not now)
    assert sql("SELECT fail_login_count, locked_until > :before FROM users WHERE username = 'admin'",
               before=before) == [(5, True)]
    assert sql("SELECT address, failures FROM login_addresses WHERE locked_until IS NOT NULL") == \
        [("203.0.113.1", 5)]
    # the locked attacker address is refused even with the right password ...
    login_from(attacker, "203.0.113.1", "admin", ADMIN_PASSWORD)
    assert not signed_in(attacker)
    # as after many more failures (the delay's growth: the next test), so that no test step outlasts it
    sql("UPDATE users SET locked_until = now() AT TIME ZONE 'utc' + interval '1 minute' WHERE username = 'admin'")
    # ... during the account's delay, attempts from other addresses are refused and not counted ...
    login_from(attacker, "203.0.113.2", "admin", "guess number 6")
    assert sql("SELECT fail_login_count FROM users WHERE username = 'admin'") == [(5,)]
    # ... a new address must wait out the account's delay (a forged known-device cookie does not help) ...
    newcomer = app.test_client()
    newcomer.set_cookie("crm_known_device", "WzFd.forged.signature")
    login_from(newcomer, "198.51.100.4", "admin", ADMIN_PASSWORD)
    assert not signed_in(newcomer)
    # ... but the admin's own browser on a new network is known by the cookie its last sign-in set ...
    login_from(client, "192.0.2.77", "admin", ADMIN_PASSWORD)
    assert signed_in(client)
    client.get("/logout/")
    sql("UPDATE users SET fail_login_count = 5, locked_until = now() AT TIME ZONE 'utc' + interval '1 minute' "
        "WHERE username = 'admin'")  # that success reset the count: the attack goes on
    # ... and the admin's usual address signs in at once, which resets the account's count
    login(client)
    assert signed_in(client)
    assert sql("SELECT fail_login_count, locked_until FROM users WHERE username = 'admin'") == [(0, None)]
    login_from(newcomer, "198.51.100.4", "admin", ADMIN_PASSWORD)
    assert signed_in(newcomer)


def test_account_delay_grows_with_failures_and_is_capped(app, client, sql):
    make_user(app)

    def delay_after_failure(previous_failures: int) -> tuple[float, float] | None:
        """The delay set by one more failure, as (least, most): the request's own time is not known exactly,
        only that it fell between two clock readings (a loaded machine may take seconds per request)."""
        sql("UPDATE users SET fail_login_count = :n, locked_until = NULL WHERE username = 'rep'",
            n=previous_failures)
        (before,), = sql("SELECT now() AT TIME ZONE 'utc'")
        login_from(app.test_client(), f"192.0.2.{previous_failures}", "rep", "not the password")
        (after,), = sql("SELECT now() AT TIME ZONE 'utc'")
        (locked,), = sql("SELECT locked_until FROM users WHERE username = 'rep'")
        return None if locked is None else ((locked - after).total_seconds(), (locked - before).total_seconds())

    def within(bounds: tuple[float, float] | None, low: float, high: float) -> bool:
        least, most = bounds
        return most > low and least <= high and least <= most

    assert delay_after_failure(3) is None  # the 4th failure: no delay yet
    assert within(delay_after_failure(4), 0, 1)
    assert within(delay_after_failure(6), 3, 4)
    assert within(delay_after_failure(9), 30, 32)
    assert within(delay_after_failure(40), 59, 60)


def test_unlock_clears_every_counter_of_the_user(app, client, sql):
    from tests.support.cli import crm_cli

    make_user(app)
    for _ in range(5):
        login_from(app.test_client(), "203.0.113.1", "rep", "wrong password")
    assert sql("SELECT count(*) FROM login_addresses WHERE locked_until IS NOT NULL") == [(1,)]
    assert sql("SELECT fail_login_count FROM users WHERE username = 'rep'") == [(5,)]
    assert crm_cli(app, "user", "unlock", "rep").exit_code == 0
    assert sql("SELECT fail_login_count, locked_until FROM users WHERE username = 'rep'") == [(0, None)]
    assert sql("SELECT sum(failures), count(locked_until) FROM login_addresses") == [(0, 0)]
    login_from(client, "203.0.113.1", "rep", USER_PASSWORD)
    assert signed_in(client)


def test_four_failures_then_success_resets_the_count(app, client, sql):
    make_user(app)
    for _ in range(4):
        login(client, "rep", "not it at all")
    login(client, "rep", USER_PASSWORD)
    assert signed_in(client)
    assert sql("SELECT fail_login_count FROM users WHERE username = 'rep'") == [(0,)]


def test_unknown_user_and_wrong_password_get_one_message(app, client):
    make_user(app)
    login(client, "nobody-here", "whatever password")
    unknown = login_message(client)
    login(client, "rep", "wrong password here")
    wrong = login_message(client)
    assert GENERIC in unknown and GENERIC in wrong
    assert "nobody-here" not in unknown


def test_per_address_rate_limit_is_counted_in_the_database(app, client, sql):
    app.config.update(AUTH_RATE_LIMIT_ATTEMPTS=3, AUTH_RATE_LIMIT_SECONDS=600)
    for i in range(3):
        assert login(client, f"user{i}", "wrong password 1").status_code == 302
    token = csrf_token(client, "/login/")
    refused = client.post("/login/", data={"username": "admin", "password": ADMIN_PASSWORD,
                                           "csrf_token": token})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many sign-in attempts" in refused.get_data(as_text=True)
    assert sql("SELECT sum(attempts) FROM login_rate_windows WHERE address = '127.0.0.1'") == [(4,)]
    # a second client (another worker would see the same table) is refused as well
    other = app.test_client()
    assert other.post("/api/v1/security/login", json={"username": "admin", "password": ADMIN_PASSWORD,
                                                      "provider": "db"}).status_code == 429
    # another address is not affected
    elsewhere = app.test_client()
    token = csrf_token(elsewhere, "/login/")
    ok = elsewhere.post("/login/", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token},
                        environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert ok.status_code == 302 and "/login" not in ok.headers["Location"]


def test_passwords_are_scrypt_hashes(app, sql):
    make_user(app)
    (hashed,), = sql("SELECT password_hash FROM users WHERE username = 'rep'")
    assert hashed.startswith("scrypt:") and check_password_hash(hashed, USER_PASSWORD)
    assert app.config["FAB_PASSWORD_HASH_METHOD"] == "scrypt"


def _add_user_form(admin, sql, password: str, username: str = "newbie"):
    (role_id,), = sql("SELECT role_id FROM roles WHERE role_name = 'Sales Rep'")
    data = form_fields(admin.get("/users/add").get_data(as_text=True))
    data.update({"username": username, "first_name": "New", "last_name": "Bie",
                 "email": f"{username}@example.com", "role": str(role_id), "active": "y",
                 "password": password, "conf_password": password})
    return admin.post("/users/add", data=data)


def test_password_policy_on_the_users_screen(admin, sql):
    for password, message in [("Short-1", "at least 12 characters"),
                              ("newbie-account", None),
                              ("qwerty123456", "commonly used"),
                              ("Password2026!!", "commonly used"),
                              ("Newbie-Account", "must not be the username"),
                              ("2026qwerty2026", "commonly used"),
                              ("123456789012345", "commonly used"),
                              ("ssssssssssssss", "one character repeated"),
                              ("newbienewbienewbie", "must not be the username"),
                              ("NewbieNewbie2026!", "must not be the username")]:
        username = "newbie-account" if password.lower() == "newbie-account" else "newbie"
        response = _add_user_form(admin, sql, password, username)
        assert response.status_code == 200, password
        page = response.get_data(as_text=True)
        assert (message or "must not be the username") in page, password
    assert sql("SELECT count(*) FROM users WHERE username LIKE 'newbie%'") == [(0,)]
    assert _add_user_form(admin, sql, "Correct horse battery 9").status_code == 302
    assert sql("SELECT count(*) FROM users WHERE username = 'newbie'") == [(1,)]


def test_add_user_form_asks_for_a_role_and_ticks_active(app, admin, sql):
    page = admin.get("/users/add").get_data(as_text=True)
    fields = form_fields(page)
    assert fields["active"] == "y"  # ticked
    assert fields["role"] == "__None" and "Choose a role" in page
    fields.update({"username": "newbie", "first_name": "New", "last_name": "Bie", "email": "newbie@example.com",
                   "password": "Correct horse battery 9", "conf_password": "Correct horse battery 9"})
    refused = admin.post("/users/add", data=fields)
    assert refused.status_code == 200 and "This field is required." in refused.get_data(as_text=True)
    assert sql("SELECT count(*) FROM users WHERE username = 'newbie'") == [(0,)]
    (role_id,), = sql("SELECT role_id FROM roles WHERE role_name = 'Sales Rep'")
    assert admin.post("/users/add", data={**fields, "role": str(role_id)}).status_code == 302
    assert sql("SELECT active, role_id FROM users WHERE username = 'newbie'") == [(True, role_id)]
    newbie = app.test_client()
    login(newbie, "newbie", "Correct horse battery 9")
    assert signed_in(newbie)


def test_admin_resets_a_password_with_the_policy_and_ends_the_users_sessions(app, admin, sql):
    rep, uid = rep_signed_in(app, sql)
    url = f"/resetpassword/form?pk={uid}"
    token = csrf_token(admin, url)
    weak = admin.post(url, data={"password": "password1234", "conf_password": "password1234", "csrf_token": token})
    assert weak.status_code == 200 and "commonly used" in weak.get_data(as_text=True)
    good = "Brand-new-password-77"
    response = admin.post(url, data={"password": good, "conf_password": good, "csrf_token": token})
    assert response.status_code == 302
    (hashed,), = sql("SELECT password_hash FROM users WHERE username = 'rep'")
    assert check_password_hash(hashed, good)
    assert not signed_in(rep)


def test_post_without_csrf_token_gets_400_and_changes_nothing(admin, sql):
    before = sql("SELECT count(*) FROM users")
    (role_id,), = sql("SELECT role_id FROM roles WHERE role_name = 'Sales Rep'")
    response = admin.post("/users/add", data={"username": "x", "email": "x@example.com", "role": str(role_id),
                                              "password": "Correct horse battery 9",
                                              "conf_password": "Correct horse battery 9"})
    assert response.status_code == 400
    assert sql("SELECT count(*) FROM users") == before
    grants = sql("SELECT count(*) FROM role_permissions WHERE role_id = :r", r=role_id)
    response = admin.post(f"/permission-matrix/role/{role_id}",
                          data={"cell": "customers:read", "was:customers:read": "all"})
    assert response.status_code == 400
    assert sql("SELECT count(*) FROM role_permissions WHERE role_id = :r", r=role_id) == grants
    fresh = admin.application.test_client()
    assert fresh.post("/login/", data={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 400


def test_session_cookie_flags(app, client):
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    from app import create_app
    from config import TestConfig

    https = create_app(TestConfig, DATABASE_URL=app.config["DATABASE_URL"], INSTANCE_DIR=app.config["INSTANCE_DIR"],
                       SECRET_KEY="test-secret", SESSION_COOKIE_SECURE=True)
    secure = https.test_client()
    assert "Secure" in login(secure).headers["Set-Cookie"]
    with https.app_context():
        from app.extensions import db

        db.engine.dispose()


def test_session_cookie_sent_again_only_when_changed_or_a_minute_old(app, admin, monkeypatch):
    assert "Set-Cookie" in admin.get("/contacts/list/").headers  # a new page in FAB's page history
    again = admin.get("/contacts/list/")
    assert again.status_code == 200 and "Set-Cookie" not in again.headers and "Cookie" in again.headers["Vary"]
    assert "Set-Cookie" in admin.get("/contacts/list/?q=x").headers
    # an unchanged session signed over a minute ago: sent again, so its expiry keeps moving
    with admin.session_transaction() as session:
        stored = dict(session)
    with app.app_context():
        signer = app.session_interface.get_signing_serializer(app)
        signed_at = time.time() - 61
        monkeypatch.setattr("itsdangerous.timed.time.time", lambda: signed_at)
        old = signer.dumps(stored)
        monkeypatch.undo()
    admin.set_cookie("session", old)
    refreshed = admin.get("/contacts/list/?q=x")
    assert refreshed.status_code == 200 and "Set-Cookie" in refreshed.headers
    assert "Set-Cookie" not in admin.get("/contacts/list/?q=x").headers


def test_idle_timeout_ends_the_session(admin, sql):
    assert signed_in(admin)
    sql("UPDATE user_sessions SET last_seen_at = last_seen_at - interval '31 minutes'")
    response = admin.get("/customers/list/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    assert "session has ended" in admin.get("/login/").get_data(as_text=True)
    assert sql("SELECT count(*) FROM user_sessions") == [(0,)]


def test_startup_forgets_expired_sessions(app, admin, sql):
    from app.ops.bootstrap import sync_security

    login(app.test_client())
    sql("UPDATE user_sessions SET last_seen_at = last_seen_at - interval '31 minutes' "
        "WHERE token_hash = (SELECT min(token_hash) FROM user_sessions)")
    with app.app_context():
        sync_security(app)
    assert sql("SELECT count(*) FROM user_sessions") == [(1,)]


def test_activity_keeps_the_session_alive(admin, sql):
    sql("UPDATE user_sessions SET last_seen_at = last_seen_at - interval '29 minutes'")
    assert signed_in(admin)
    sql("UPDATE user_sessions SET last_seen_at = last_seen_at - interval '29 minutes'")
    assert signed_in(admin)


def test_absolute_lifetime_ends_an_active_session(admin, sql):
    sql("UPDATE user_sessions SET created_at = created_at - interval '12 hours 1 minute'")
    assert not signed_in(admin)


def test_timeouts_are_configurable(app, client, sql):
    app.config["SESSION_IDLE_TIMEOUT"] = dt.timedelta(minutes=5)
    login(client)
    sql("UPDATE user_sessions SET last_seen_at = last_seen_at - interval '6 minutes'")
    assert not signed_in(client)


def test_logout_ends_the_session_even_for_a_replayed_cookie(app, admin, sql):
    cookie = admin.get_cookie("session").value
    assert admin.get("/logout/").status_code == 302
    assert not signed_in(admin)
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert not signed_in(thief)
    assert sql("SELECT count(*) FROM user_sessions") == [(0,)]


def test_disabled_user_is_signed_out_and_cannot_sign_in(app, admin, sql):
    rep, uid = rep_signed_in(app, sql)
    fields = form_fields(admin.get(f"/users/edit/{uid}").get_data(as_text=True))
    fields.pop("active")
    assert admin.post(f"/users/edit/{uid}", data=fields).status_code == 302
    assert sql("SELECT active FROM users WHERE user_id = :u", u=uid) == [(False,)]
    assert not signed_in(rep)
    login(rep, "rep", USER_PASSWORD)
    assert not signed_in(rep) and DISABLED in login_message(rep)
    # a wrong password does not tell that the account exists and is disabled
    login(rep, "rep", "wrong password here")
    page = login_message(rep)
    assert GENERIC in page and DISABLED not in page
    api = rep.post("/api/v1/security/login", json={"username": "rep", "password": USER_PASSWORD, "provider": "db"})
    assert api.status_code == 401


def test_disabling_in_the_database_also_ends_open_sessions(app, client, sql):
    make_user(app)
    login(client, "rep", USER_PASSWORD)
    assert signed_in(client)
    sql("UPDATE users SET active = false WHERE username = 'rep'")
    assert not signed_in(client)


def test_admin_cannot_disable_or_demote_themselves(admin, sql):
    (uid,), = sql("SELECT user_id FROM users WHERE username = 'admin'")
    fields = form_fields(admin.get(f"/users/edit/{uid}").get_data(as_text=True))
    page = admin.post(f"/users/edit/{uid}", data={k: v for k, v in fields.items() if k != "active"},
                      follow_redirects=True).get_data(as_text=True)
    assert "cannot disable your own account" in page
    (rep_role,), = sql("SELECT role_id FROM roles WHERE role_name = 'Sales Rep'")
    page = admin.post(f"/users/edit/{uid}", data={**fields, "role": str(rep_role)},
                      follow_redirects=True).get_data(as_text=True)
    assert "cannot change your own role" in page
    assert sql("SELECT active, r.role_name FROM users JOIN roles r USING (role_id) WHERE user_id = :u",
               u=uid) == [(True, "Admin")]


def test_role_change_applies_on_the_next_request(app, admin, sql):
    make_user(app)
    rep = app.test_client()
    login(rep, "rep", USER_PASSWORD)
    assert rep.get("/tickets/list/").status_code == 403
    (uid,), = sql("SELECT user_id FROM users WHERE username = 'rep'")
    (agent,), = sql("SELECT role_id FROM roles WHERE role_name = 'Support Agent'")
    fields = form_fields(admin.get(f"/users/edit/{uid}").get_data(as_text=True))
    assert admin.post(f"/users/edit/{uid}", data={**fields, "role": str(agent)}).status_code == 302
    assert rep.get("/tickets/list/").status_code == 200


def test_jwt_tokens_expire(app, client, sql):
    token = client.post("/api/v1/security/login", json={"username": "admin", "password": ADMIN_PASSWORD,
                                                        "provider": "db"}).get_json()["access_token"]
    assert client.get("/api/v1/customers/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == dt.timedelta(minutes=15)
    from flask_jwt_extended import create_access_token

    (uid,), = sql("SELECT user_id FROM users WHERE username = 'admin'")
    with app.app_context():
        expired = create_access_token(str(uid), expires_delta=dt.timedelta(seconds=-1))
    response = client.get("/api/v1/customers/", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401


def test_api_refuses_by_role_and_tokens_of_disabled_users(app, client, sql):
    make_user(app, "agent", "Support Agent")
    token = client.post("/api/v1/security/login", json={"username": "agent", "password": USER_PASSWORD,
                                                        "provider": "db"}).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    before = sql("SELECT count(*) FROM customers")
    assert client.post("/api/v1/customers/", json={"name": "Nope"}, headers=headers).status_code == 403
    assert sql("SELECT count(*) FROM customers") == before
    assert client.get("/api/v1/tickets/", headers=headers).status_code == 200
    sql("UPDATE users SET active = false WHERE username = 'agent'")
    assert client.get("/api/v1/tickets/", headers=headers).status_code == 401


def test_api_unknown_related_id_is_a_clear_404_naming_the_field(admin, sql):
    """A body naming a row that does not exist: 404 naming the field (docs/api.md, as JSON:API and Stripe)."""
    before = sql("SELECT count(*) FROM contacts")
    response = admin.post("/api/v1/contacts/", json={"first_name": "A", "last_name": "B", "customer": 99999},
                          headers={"X-CSRFToken": csrf_token(admin, "/")})
    assert response.status_code == 404
    assert response.get_json()["errors"] == {"customer": ["There is no customer with id 99999."]}
    assert response.get_json()["status"] == 404 and "99999" in response.get_json()["message"]
    bad = admin.post("/api/v1/contacts/", json={"first_name": "A", "last_name": "B", "customer": "abc"},
                     headers={"X-CSRFToken": csrf_token(admin, "/")})
    assert bad.status_code == 422 and "customer" in bad.get_json()["message"]
    assert sql("SELECT count(*) FROM contacts") == before



def test_api_related_id_messages_are_in_the_users_language(admin, sql):
    headers = {"X-CSRFToken": csrf_token(admin, "/")}
    body = {"first_name": "A", "last_name": "B", "customer": 99999}
    missing = admin.post("/api/v1/contacts/?_l_=zh", json=body, headers=headers)
    assert missing.status_code == 404
    assert missing.get_json()["errors"] == {"customer": ["没有 ID 为 99999 的客户。"]}
    bad = admin.post("/api/v1/contacts/?_l_=zh", json={**body, "customer": -1}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["errors"] == {"customer": ["必须是某个客户的 ID（正整数）。"]}
    english = admin.post("/api/v1/contacts/?_l_=en", json={**body, "customer": -1}, headers=headers)
    assert english.get_json()["errors"] == {"customer": ["Must be the id (a positive whole number) of a customer."]}


def test_behind_proxies_failures_count_for_the_forwarded_address_and_only_then(pg, database, sql):
    """CRM_PROXY_HOPS=1: the client's address from X-Forwarded-For; with no proxy the header is never trusted."""
    from tests.support.apps import make_app

    forwarded = {"X-Forwarded-For": "198.51.100.23"}
    for hops, expected in ((0, "203.0.113.50"), (1, "198.51.100.23")):
        client = make_app(pg, database, PROXY_HOPS=hops).test_client()
        token = csrf_token(client, "/login/")
        client.post("/login/", data={"username": "admin", "password": f"wrong at {hops}", "csrf_token": token},
                    headers=forwarded, environ_base={"REMOTE_ADDR": "203.0.113.50"})
        assert (expected,) in sql("SELECT address FROM login_addresses WHERE failures > 0")
    assert sql("SELECT count(*) FROM login_addresses WHERE failures > 0") == [(2,)]
