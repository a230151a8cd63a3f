"""Every request hook of the app, in the order Flask runs them, each with why it sits there.

The modules that own a hook only define it. `register_request_hooks`, called once by
create_app after every extension has registered its own hooks, installs ours and places
the extensions' hooks (named by module and qualified name, as Flask holds them) among them.
A hook registered anywhere else, or an extension's hook gone or new after an upgrade,
stops the app at start-up: this file stays the whole list.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

from flask import Flask

from app import i18n
from app.fields import refresh
from app.security import bearer, rate_limit, sessions
from app.web import availability, csrf, headers, request_guard

# the extensions' hooks, registered by their init_app (AppBuilder, CSRFProtect, LoginManager, SQLAlchemy,
# Compress)
FAB_SETS_USER = "flask_appbuilder.security.manager.BaseSecurityManager.before_request"
FLASK_WTF_CHECK = "flask_wtf.csrf.CSRFProtect.init_app.<locals>.csrf_protect"
FLASK_LOGIN_REMEMBER = "flask_login.login_manager.LoginManager._update_remember_cookie"
FLASK_SQLALCHEMY_REMOVE = "flask_sqlalchemy.extension.SQLAlchemy._teardown_session"
FLASK_COMPRESS = "flask_compress.flask_compress.Compress.after_request"


class Step(NamedTuple):
    hook: Callable[..., Any] | str  # ours: the function; an extension's: its name
    why: str


BEFORE_REQUEST = (
    Step(request_guard.guard_path,
         "first: a NUL in the path must reach nothing (the session check writes, the audit names the path)"),
    Step(sessions.check_session,
         "before anything trusts the session: CSRF's API exemption reads its user, FAB loads it"),
    Step(refresh.check_schema_version,
         "before the argument guard and any view, which read the screens' columns (derived again when a custom "
         "field changed; at most one check a second per process); after the session check, so this read runs "
         "as the session's user with no SET of its own (app/audit/context.py SESSION_USER)"),
    Step(FLASK_WTF_CHECK,
         "Flask-WTF's own check: a no-op (WTF_CSRF_CHECK_DEFAULT is off), check_csrf decides"),
    Step(csrf.check_csrf,
         "after the session check (its exemption compares the session's user); needs no user loaded"),
    Step(FAB_SETS_USER,
         "FAB: g.user = current_user; everything below may show the layout, which reads it"),
    Step(i18n.note_locale_before_logout,
         "after FAB: reads the signed-in user's language before logout forgets the user"),
    Step(request_guard.guard_list_args,
         "after FAB: its 400 page has the layout; before any view parses the arguments"),
    Step(rate_limit.limit_login_attempts,
         "after FAB (its 429 page has the layout) and after the guards: refused requests are not counted"),
)

AFTER_REQUEST = (  # in the order they run (Flask runs the last registered first)
    Step(i18n.remember_choice,
         "first, on the view's own answer: a /lang/ redirect stores the choice on the user"),
    Step(bearer.shape_refusals,
         "on the view's answer: FAB's own API 401/403 bodies in the one error shape, before the headers"),
    Step(FLASK_LOGIN_REMEMBER,
         "Flask-Login's remember-me cookie, on the view's answer"),
    Step(availability.caught_elsewhere,
         "may replace the answer with a 503 page, so before the headers are added"),
    Step(headers.add_security_headers,
         "every answer gets the headers, whichever hook made it"),
    Step(FLASK_COMPRESS,
         "last: compresses the final body, appends the coding to its ETag, answers 304 to a matching one"),
)

TEARDOWN_APPCONTEXT = (  # in the order they run (Flask runs the last registered first)
    Step(availability.close_session_quietly,
         "before Flask-SQLAlchemy's: a database gone after the answer must not turn it into a 500"),
    Step(FLASK_SQLALCHEMY_REMOVE,
         "Flask-SQLAlchemy removes the session (already removed by ours)"),
)


def hook_name(hook: Callable[..., Any]) -> str:
    """How a hook is named in the lists above: module and qualified name."""
    return f"{hook.__module__}.{hook.__qualname__}"


def in_order(steps: tuple[Step, ...], registered: list[Callable[..., Any]]) -> list[Callable[..., Any]]:
    """The hooks of `steps` in their order, extensions' hooks taken from `registered` by name."""
    ours = {step.hook for step in steps if callable(step.hook)}
    theirs = {hook_name(hook): hook for hook in registered if hook not in ours}
    ordered = []
    for step in steps:
        if callable(step.hook):
            ordered.append(step.hook)
        elif step.hook in theirs:
            ordered.append(theirs.pop(step.hook))
        else:
            raise RuntimeError(f"request hook {step.hook} is not registered (an extension changed?): "
                               "review app/web/hooks.py")
    if theirs:
        raise RuntimeError(f"request hooks missing from app/web/hooks.py: {', '.join(sorted(theirs))}")
    return ordered


def register_request_hooks(app: Flask) -> None:
    """Install every app-wide request hook in the order above (after all extensions' init_app)."""
    app.before_request_funcs[None] = in_order(BEFORE_REQUEST, app.before_request_funcs.get(None, []))
    app.after_request_funcs[None] = in_order(AFTER_REQUEST, app.after_request_funcs.get(None, []))[::-1]
    app.teardown_appcontext_funcs[:] = in_order(TEARDOWN_APPCONTEXT, app.teardown_appcontext_funcs)[::-1]
    app.ensure_sync = known_sync(app.ensure_sync)  # type: ignore[method-assign]


def known_sync(ensure_sync: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[..., Any]:
    """Flask's `ensure_sync` (its documented override point), remembering the functions found synchronous.

    Flask asks it of every hook and view it runs, about twenty a request, and each answer goes
    through `inspect`'s checks. A coroutine function is wrapped by Flask's own every time.
    """
    known: set[Callable[..., Any]] = set()

    def checked(func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in known:
                return func
        except TypeError:  # an unhashable callable: Flask's answer, not kept
            return ensure_sync(func)
        answer = ensure_sync(func)
        if answer is func:
            if len(known) >= 4096:  # hooks and views are a few dozen; anything made per call: start over
                known.clear()
            known.add(func)
        return answer

    return checked


def running_order(app: Flask) -> dict[str, list[str]]:
    """The app-wide hooks by name, in the order Flask will run them."""
    return {
        "before_request": [hook_name(h) for h in app.before_request_funcs.get(None, [])],
        "after_request": [hook_name(h) for h in reversed(app.after_request_funcs.get(None, []))],
        "teardown_appcontext": [hook_name(h) for h in reversed(app.teardown_appcontext_funcs)],
    }
