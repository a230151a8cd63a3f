"""`crm create-user` password policy and `crm user ...`: disable, enable, set-role, reset-password, unlock."""
from __future__ import annotations

from werkzeug.security import check_password_hash

from tests.support.cli import crm_cli
from tests.support.client import login

PASSWORD = "Sales-rep-password-2026"


def make_rep(app):
    result = crm_cli(app, "create-user", "--username", "rep", "--email", "rep@example.com", "--role", "Sales Rep",
                     "--password", PASSWORD)
    assert result.exit_code == 0, result.output


def signed_in(client) -> bool:
    return client.get("/customers/list/").status_code == 200


def test_create_user_applies_the_password_policy(app, sql):
    for password, message in (("short-pass", "at least 12"), ("qwerty123456", "commonly used"),
                              ("Rep-Account-1", None), ("2026sunshine!!", "commonly used"),
                              ("============", "one character repeated"),
                              ("repreprepreprep1", "must not be the username")):
        username = "rep-account-1" if message is None else "rep"
        message = message or "must not be the username"
        result = crm_cli(app, "create-user", "--username", username, "--email", "r@example.com",
                         "--role", "Sales Rep", "--password", password)
        assert result.exit_code != 0 and message in result.output, (password, result.output)
    assert sql("SELECT count(*) FROM users WHERE username LIKE 'rep%'") == [(0,)]
    result = crm_cli(app, "create-admin", "--username", "boss", "--password", "password")
    assert result.exit_code != 0 and sql("SELECT count(*) FROM users WHERE username = 'boss'") == [(0,)]


def test_disable_ends_sessions_and_sign_in_then_enable(app, client, sql):
    make_rep(app)
    login(client, "rep", PASSWORD)
    assert signed_in(client)
    assert crm_cli(app, "user", "disable", "rep").exit_code == 0
    assert sql("SELECT active FROM users WHERE username = 'rep'") == [(False,)]
    assert not signed_in(client)
    login(client, "rep", PASSWORD)
    assert not signed_in(client)
    assert crm_cli(app, "user", "enable", "rep").exit_code == 0
    login(client, "rep", PASSWORD)
    assert signed_in(client)


def test_set_role(app, client, sql):
    make_rep(app)
    login(client, "rep", PASSWORD)
    assert client.get("/tickets/list/").status_code == 403
    result = crm_cli(app, "user", "set-role", "rep", "Support Agent")
    assert result.exit_code == 0, result.output
    assert client.get("/tickets/list/").status_code == 200
    bad = crm_cli(app, "user", "set-role", "rep", "Nope")
    assert bad.exit_code != 0 and "no role 'Nope'" in bad.output
    assert sql("SELECT r.role_name FROM users JOIN roles r USING (role_id) WHERE username = 'rep'") == \
        [("Support Agent",)]


def test_reset_password_unlocks_and_ends_sessions(app, client, sql):
    make_rep(app)
    login(client, "rep", PASSWORD)
    sql("UPDATE users SET fail_login_count = 5, locked_until = now() + interval '10 minutes' "
        "WHERE username = 'rep'")
    for weak_password in ("rep", "RepRepRepRep", "1111111111111111", "letmein2026!!"):
        weak = crm_cli(app, "user", "reset-password", "rep", "--password", weak_password)
        assert weak.exit_code != 0 and "Error" in weak.output, weak_password
    result = crm_cli(app, "user", "reset-password", "rep", "--password", "Another-good-password-1")
    assert result.exit_code == 0, result.output
    (hashed, fails, until), = sql("SELECT password_hash, fail_login_count, locked_until FROM users "
                                  "WHERE username = 'rep'")
    assert check_password_hash(hashed, "Another-good-password-1") and fails == 0 and until is None
    assert not signed_in(client)
    login(client, "rep", "Another-good-password-1")
    assert signed_in(client)


def test_unlock_and_unknown_user(app, sql):
    make_rep(app)
    sql("UPDATE users SET fail_login_count = 5, locked_until = now() + interval '10 minutes' "
        "WHERE username = 'rep'")
    assert crm_cli(app, "user", "unlock", "rep").exit_code == 0
    assert sql("SELECT fail_login_count, locked_until FROM users WHERE username = 'rep'") == [(0, None)]
    result = crm_cli(app, "user", "disable", "ghost")
    assert result.exit_code != 0 and "no user 'ghost'" in result.output


def test_first_admin_password_from_the_environment_obeys_the_policy(pg, database, sql):
    import click
    import pytest

    from tests.support.apps import make_app

    sql("DELETE FROM users")
    app = make_app(pg, database, ADMIN_PASSWORD="adminadminadmin1")
    with app.app_context():
        from app.ops.bootstrap import ensure_admin
        from app.extensions import db

        with pytest.raises(click.ClickException, match="CRM_ADMIN_PASSWORD is refused: .*username"):
            ensure_admin(app, echo=lambda *_: None)
        db.session.remove()
        db.engine.dispose()
    assert sql("SELECT count(*) FROM users") == [(0,)]
