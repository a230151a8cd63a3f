"""Every /api/v1 operation refuses a missing, malformed, expired or revoked credential with a 401
(JSON {message, status}, WWW-Authenticate: Bearer) and a role without the permission with a 403;
CSRF applies to cookie sessions only."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.support.api_keys import bearer, create_key
from tests.support.apps import ADMIN_PASSWORD
from tests.support.cli import crm_cli
from tests.support.client import csrf_token
from tests.support.users import USER_PASSWORD, add_user

PUBLIC = {("POST", "/api/v1/security/login")}  # authenticates by the username and password it carries
REFRESH = ("POST", "/api/v1/security/refresh")  # takes a refresh token, needs no permission


def operations(app) -> list[tuple[str, str]]:
    """(method, URL) of every /api/v1 operation, from the app's routes; path arguments filled in."""
    found = set()
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<(?:\w+:)?pk>", "1", rule.rule.replace("<version>", "v1"))
        if not url.startswith("/api/v1/"):
            continue
        assert "<" not in url, f"a path argument the table does not know: {rule.rule}"
        found |= {(method, url) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert len(found) > 30
    return sorted(found - PUBLIC)


def send(client, method: str, url: str, headers: dict | None = None):
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.open(url, method=method, headers=headers or {}, json=body)


def assert_401(response, label: str, error: bool) -> None:
    assert response.status_code == 401, f"{label}: {response.status_code} {response.get_data(as_text=True)[:200]}"
    body = response.get_json()
    assert set(body) == {"message", "status"} and body["status"] == 401 and isinstance(body["message"], str), label
    challenge = response.headers.get("WWW-Authenticate", "")
    assert challenge.startswith('Bearer realm="CRM"'), f"{label}: {challenge!r}"
    assert ('error="invalid_token"' in challenge) == error, f"{label}: {challenge!r}"


@pytest.fixture
def nobody(app, sql) -> str:
    """A user whose role has no permission at all."""
    sql("INSERT INTO roles (role_name) VALUES ('Nobody')")
    add_user(app, "nobody", "No", "Body", "Nobody", USER_PASSWORD)
    return "nobody"


def jwt_of(app, username: str, **claims) -> str:
    from flask_jwt_extended import create_access_token

    from app.extensions import db
    from app.models import User

    with app.test_request_context():
        user = db.session.query(User).filter_by(username=username).one()
        return create_access_token(identity=str(user.user_id), **claims)


def bad_credentials(app, sql, nobody: str) -> dict[str, tuple[dict, bool]]:
    """label -> (headers, whether the challenge names an error): missing, malformed, expired, revoked."""
    from tests.support.users import make_user

    make_user(app, "leaver")
    make_user(app, "changed")
    revoked_key, expired_key, disabled_key = (create_key(app, user, name) for user, name in (
        ("admin", "revoked"), ("admin", "expired"), ("leaver", "leaver's")))
    assert crm_cli(app, "apikey", "revoke", "revoked").exit_code == 0
    sql("UPDATE api_keys SET expires_at = now() AT TIME ZONE 'utc' - interval '1 second' WHERE name = 'expired'")
    changed_jwt = jwt_of(app, "changed")
    leaver_jwt = jwt_of(app, "leaver")
    assert crm_cli(app, "user", "disable", "leaver").exit_code == 0
    assert crm_cli(app, "user", "reset-password", "changed", "--password", "Another-password-2026").exit_code == 0
    return {
        "no Authorization header": ({}, False),
        "another scheme (Basic)": ({"Authorization": "Basic YWRtaW46YWRtaW4="}, False),
        "malformed JWT (not enough segments)": ({"Authorization": "Bearer not-a-token"}, True),
        "empty bearer": ({"Authorization": "Bearer "}, True),
        "JWT signed with another secret": ({"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0."
                                            "c2lnbmF0dXJlLW9mLWFub3RoZXItc2VjcmV0"}, True),
        "expired JWT": (bearer(jwt_of(app, "admin", expires_delta=dt.timedelta(seconds=-5))), True),
        "JWT issued before a password change": (bearer(changed_jwt), True),
        "JWT of a disabled user": (bearer(leaver_jwt), True),
        "unknown API key": (bearer("crm_" + "x" * 43), True),
        "revoked API key": (bearer(revoked_key), True),
        "expired API key": (bearer(expired_key), True),
        "API key of a disabled user": (bearer(disabled_key), True),
    }


def test_every_operation_refuses_a_missing_or_bad_credential_with_401(app, sql, nobody):
    client = app.test_client()
    credentials = bad_credentials(app, sql, nobody)
    before = sql("SELECT count(*) FROM customers")
    ops = operations(app)
    for method, url in ops:
        for label, (headers, error) in credentials.items():
            assert_401(send(client, method, url, headers), f"{method} {url} with {label}", error)
    assert sql("SELECT count(*) FROM customers") == before
    assert (("GET", "/api/v1/_openapi") in ops and ("DELETE", "/api/v1/tickets/1") in ops
            and REFRESH in ops)


def test_every_operation_refuses_a_role_without_the_permission_with_403(app, sql, nobody):
    client = app.test_client()
    for label, credential in (("JWT", jwt_of(app, "nobody")), ("API key", create_key(app, "nobody", "nobody's"))):
        for method, url in operations(app):
            if (method, url) == REFRESH:
                continue  # needs a refresh token, not a permission (a refused token is a 401 above)
            response = send(client, method, url, bearer(credential))
            assert response.status_code == 403, f"{label} {method} {url}: {response.status_code}"
            assert response.get_json() == {"message": response.get_json()["message"], "status": 403}, url


def test_a_refused_credential_says_why(app, sql, nobody):
    client = app.test_client()
    credentials = bad_credentials(app, sql, nobody)
    messages = {label: send(client, "GET", "/api/v1/customers/", headers).get_json()["message"]
                for label, (headers, _error) in credentials.items()}
    assert "Authorization: Bearer" in messages["no Authorization header"]
    assert messages["expired API key"] == messages["expired JWT"] == "The credential has expired."
    assert messages["revoked API key"] == "The credential has been revoked."
    assert messages["API key of a disabled user"] == "The credential's user is disabled."
    assert messages["malformed JWT (not enough segments)"] == "The credential is not valid."
    assert not any("segments" in m or "Signature" in m for m in messages.values())


# ---------------------------------------------------------------- CSRF: cookie sessions only

def test_a_write_with_a_bearer_credential_and_no_cookie_needs_no_csrf_token(app, client, sql):
    secret = create_key(app, "admin", "writer")
    response = client.post("/api/v1/customers/", json={"name": "By key"}, headers=bearer(secret))
    assert response.status_code == 201, response.get_json()
    token = client.post("/api/v1/security/login", json={"username": "admin", "password": ADMIN_PASSWORD,
                                                        "provider": "db"}).get_json()["access_token"]
    response = client.put(f"/api/v1/customers/{response.get_json()['id']}", json={"name": "By JWT"},
                          headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    assert sql("SELECT name FROM customers") == [("By JWT",)]


def test_a_write_without_any_credential_is_401_not_a_csrf_refusal(client, sql):
    for method, url in (("POST", "/api/v1/customers/"), ("PUT", "/api/v1/customers/1"),
                        ("DELETE", "/api/v1/customers/1")):
        response = client.open(url, method=method, json={"name": "Anonymous"})
        assert_401(response, f"{method} {url}", error=False)
        assert "CSRF" not in response.get_data(as_text=True)
    assert sql("SELECT count(*) FROM customers") == [(0,)]


def test_a_cookie_session_still_needs_the_csrf_token_on_api_writes(app, admin, sql):
    secret = create_key(app, "admin", "in a browser")
    for headers in ({}, bearer(secret)):  # an API key does not lift the session's CSRF check
        response = admin.post("/api/v1/customers/", json={"name": "Forged"}, headers=headers)
        assert response.status_code == 400, (headers, response.status_code)
        assert response.get_json()["status"] == 400
    assert sql("SELECT count(*) FROM customers") == [(0,)]
    token = csrf_token(admin, "/customers/add")
    response = admin.post("/api/v1/customers/", json={"name": "From the page"}, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.get_json()
    assert sql("SELECT name FROM customers") == [("From the page",)]
