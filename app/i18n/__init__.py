"""The UI language: chosen per user (users.locale), remembered, in Simplified Chinese or English.

Which language a request gets, first match wins:
1. `?_l_=<lang>` (Flask-AppBuilder's switch for API calls),
2. the signed-in user's stored choice (`users.locale`),
3. the choice made in this browser session (the top bar's language menu, also before sign-in),
4. the browser's Accept-Language,
5. BABEL_DEFAULT_LOCALE.
The top bar's menu goes to FAB's `/lang/<lang>`, which sets the session's choice;
for a signed-in user the choice is then stored on the user, so it follows them to
other browsers and across sign-outs. Catalogs: FAB's own (`zh`) and ours
(`app/translations`), merged by Flask-Babel; ours wins where both translate a string.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import get_locale, refresh
from flask_login import current_user, user_logged_in
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.i18n.catalogs import ensure_compiled
from app.i18n.formatting import init_formatting
from app.i18n.translations import init_translations

log = logging.getLogger(__name__)
SWITCH_ENDPOINT = "LocaleView.index"
# <html lang>: a language tag (BCP 47) where the catalog's code alone is not the one a screen reader wants
HTML_LANGS = {"zh": "zh-CN"}


def languages() -> dict:
    return current_app.config["LANGUAGES"]


def html_lang(locale: object = None) -> str:
    """The page's `<html lang>` for a UI language (the current request's by default): en, zh-CN."""
    code = str(locale if locale is not None else (get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]))
    return HTML_LANGS.get(code, code)


def _signed_in_user():
    user = g.get("_login_user") if "_login_user" in g else current_user
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def select_locale() -> str | None:
    """The language of the current request (see the module docstring)."""
    if not has_request_context():
        return None
    supported = languages()
    wanted = request.args.get("_l_")
    if wanted:
        return wanted if wanted in supported else current_app.config["BABEL_DEFAULT_LOCALE"]
    user = _signed_in_user()
    try:
        stored = getattr(user, "locale", None) if user is not None else None
    except SQLAlchemyError:
        # the user's row had to be read again (expired by a rollback) while the database was
        # going away, e.g. when a flash message is written into the cookie: answer anyway
        stored = None
    if stored in supported:
        return stored
    return session_or_browser_locale()


def session_or_browser_locale() -> str:
    """Steps 3 to 5 of the choice (see the module docstring): no database needed."""
    supported = languages()
    chosen = session.get("locale")
    if chosen in supported:
        return chosen
    return request.accept_languages.best_match(list(supported)) or current_app.config["BABEL_DEFAULT_LOCALE"]


def remember_choice(response):
    """After `/lang/<lang>`: store the choice on the signed-in user; on sign-out keep it for the login page."""
    endpoint = request.endpoint or ""
    if endpoint == SWITCH_ENDPOINT and response.status_code in (301, 302, 303):
        user = _signed_in_user()
        chosen = session.get("locale")
        if user is not None and chosen in languages() and getattr(user, "locale", None) != chosen:
            user.locale = chosen
            db.session.commit()
    elif endpoint.endswith(".logout") and "crm_locale" in g:
        session["locale"] = g.crm_locale
    return response


def note_locale_before_logout() -> None:
    """On the way to logout: keep the signed-in user's language for the login page that follows."""
    if (request.endpoint or "").endswith(".logout") and _signed_in_user() is not None:
        g.crm_locale = str(get_locale())


def init_i18n(app: Flask) -> None:
    """After AppBuilder: our locale selector, compiled catalogs, formatting (hooks: app/web/hooks.py)."""
    for mo in ensure_compiled():
        log.info("compiled %s", mo)
    app.extensions["babel"].locale_selector = select_locale
    app.jinja_env.globals["html_lang"] = html_lang
    init_formatting(app)
    init_translations(app)

    @user_logged_in.connect_via(app)
    def _adopt_session_choice(_sender, user, **_extra) -> None:
        # a language picked on the login page becomes the user's, unless they already chose one
        chosen = session.get("locale")
        if getattr(user, "locale", None) is None and chosen in languages():
            user.locale = chosen
            db.session.commit()
        refresh()
