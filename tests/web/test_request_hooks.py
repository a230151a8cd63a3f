"""The app's request hooks run in the one order app/web/hooks.py documents, and nothing else runs."""
from __future__ import annotations

import pytest
from flask import Flask

from app.web import hooks
from tests.support.client import login


def _names(steps: tuple[hooks.Step, ...]) -> list[str]:
    return [step.hook if isinstance(step.hook, str) else hooks.hook_name(step.hook) for step in steps]


def test_registered_hooks_run_in_the_documented_order(app: Flask):
    assert hooks.running_order(app) == {
        "before_request": _names(hooks.BEFORE_REQUEST),
        "after_request": _names(hooks.AFTER_REQUEST),
        "teardown_appcontext": _names(hooks.TEARDOWN_APPCONTEXT),
    }
    before = hooks.running_order(app)["before_request"]
    # what the order is for: the path guard first, the session check before FAB loads the user,
    # everything that may render the layout after FAB set g.user
    assert before[0] == "app.web.request_guard.guard_path"
    assert before.index("app.security.sessions.check_session") < before.index(hooks.FAB_SETS_USER)
    for after_fab in ("app.web.request_guard.guard_list_args", "app.security.rate_limit.limit_login_attempts"):
        assert before.index(hooks.FAB_SETS_USER) < before.index(after_fab)
    # the headers on every answer, then compression of the final body (its ETag and 304 last)
    assert hooks.running_order(app)["after_request"][-2:] == ["app.web.headers.add_security_headers",
                                                              hooks.FLASK_COMPRESS]
    assert all(step.why for step in hooks.BEFORE_REQUEST + hooks.AFTER_REQUEST + hooks.TEARDOWN_APPCONTEXT)


def test_fab_hook_is_the_one_named(app: Flask):
    fab_hook = next(h for h in app.before_request_funcs[None] if hooks.hook_name(h) == hooks.FAB_SETS_USER)
    assert fab_hook is app.appbuilder.sm.before_request


def test_registering_again_changes_nothing(app: Flask):
    order = hooks.running_order(app)
    hooks.register_request_hooks(app)
    assert hooks.running_order(app) == order


def test_a_hook_registered_elsewhere_stops_the_app(app: Flask):
    @app.before_request
    def stray() -> None:
        return None

    with pytest.raises(RuntimeError, match="missing from app/web/hooks.py: .*stray"):
        hooks.register_request_hooks(app)


def test_nul_in_the_path_is_refused_before_a_stale_session_is_touched(app, sql):
    """The session check writes last_seen_at once a minute, and the audit names the path in SQL."""
    client = app.test_client()
    login(client)
    sql("UPDATE user_sessions SET last_seen_at = last_seen_at - interval '2 minutes'")
    (seen,), = sql("SELECT last_seen_at FROM user_sessions")
    response = client.get("/customers/list/%00")
    assert response.status_code == 400 and "Malformed address" in response.get_data(as_text=True)
    assert sql("SELECT last_seen_at FROM user_sessions") == [(seen,)]
    assert client.get("/customers/list/").status_code == 200  # the session lives on
