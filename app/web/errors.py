"""Error answers: a page in the app's layout and the user's language, JSON under /api/ and to JSON requests.

One responder for every 4xx and 5xx: Werkzeug's HTTP errors, unhandled exceptions
(500), and the cases with a message of their own (a lost database, a refused list
argument, an amount that fails its integrity check, too many sign-ins). Each page
says what happened and offers a way back. An error page never fails itself: when
the layout cannot be rendered (the database is gone, say), a plain page answers.
"""
from __future__ import annotations

import logging
from typing import Mapping
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, jsonify, render_template, request, send_from_directory
from flask_babel import force_locale, get_locale, lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from psycopg.errors import InsufficientPrivilege
from sqlalchemy.exc import ProgrammingError
from werkzeug.exceptions import HTTPException

from app.crud.refusals import out_of_scope, scope_message
from app.extensions import db
from app.fields.refresh import retry_dropped
from app.i18n import html_lang, session_or_browser_locale
from app.web.requests import is_api_request, is_screen_json_request

log = logging.getLogger(__name__)

TITLES = {
    400: _l("Bad request"),
    403: _l("Access denied"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    413: _l("Request too large"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
    503: _l("Service temporarily unavailable"),
}
MESSAGES = {
    400: _l("The request could not be understood. Check what you entered and try again."),
    403: _l("You do not have permission to open this page. Ask an administrator if you need it."),
    404: _l("There is nothing at this address. The record may have been deleted, or the link is wrong."),
    405: _l("This address does not accept that kind of request."),
    413: _l("The request is larger than the server accepts. Send less at once (for example a smaller file)."),
    429: _l("Too many requests in a short time. Wait a moment and try again."),
    500: _l("An unexpected error stopped this request; it has been logged. Try again, or go back."),
    503: _l("The service cannot answer right now. Try again in a few seconds."),
}
CSRF_MESSAGE = _l("This form has expired or did not come from this site. Reload the page and send it again.")
OTHER_TITLE = _l("The request could not be completed")
# Needs nothing but Python: no template, no database, no translation (its texts are passed in).
PLAIN_PAGE = ("<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{title} – CRM</title></head>"
              "<body style='font-family:sans-serif;margin:3em'><main><h1>{title}</h1><p>{message}</p>"
              "<p>{links}</p></main></body></html>")


def wants_json() -> bool:
    """An API call, or a client that asked for JSON: it gets a JSON body, not a page."""
    return is_api_request() or request.accept_mimetypes.best == "application/json"


def json_error(code: int, text: str) -> Response:
    """The JSON body of an error: {error} for a screen's JSON endpoint, which its script shows;
    {message, status} for the API and for clients that asked for JSON."""
    if is_screen_json_request():
        return jsonify(error=text)
    return jsonify(message=text, status=code)


def _texts(code: int, message) -> tuple[str, str, dict[str, str]]:
    """Title, message and link labels, in the user's language."""
    text = message if message is not None else MESSAGES.get(code, "")
    labels = {"back": _l("Back"), "retry": _l("Try again"), "home": _l("Home")}
    return str(TITLES.get(code, OTHER_TITLE)), str(text), {k: str(v) for k, v in labels.items()}


def _language() -> str:
    try:
        return str(get_locale() or "en")
    except Exception:
        return "en"


def _back_url() -> str | None:
    """The page the user came from, when it is one of ours and not this one."""
    referrer = request.referrer
    if not referrer or referrer == request.url:
        return None
    parts = urlsplit(referrer)
    return referrer if parts.scheme in ("http", "https") and parts.netloc == request.host else None


def _retry_url() -> str | None:
    return request.url if request.method == "GET" else None


def _layout_page(code: int, title: str, message: str) -> str:
    g.setdefault("user", current_user)  # what FAB's before_request sets, when the error came first
    return render_template("crm/error.html", code=code, title=title, message=message, back=_back_url(),
                           retry=_retry_url() if code in (429, 500, 503) else None,
                           appbuilder=current_app.appbuilder)


def _plain_page(title: str, message: str, labels: dict[str, str], language: str) -> str:
    links = ((_back_url(), labels["back"]), (_retry_url(), labels["retry"]), ("/", labels["home"]))
    return PLAIN_PAGE.format(
        lang=escape(html_lang(language)), title=escape(title), message=escape(message),
        links=" · ".join(f"<a href='{escape(url)}'>{escape(label)}</a>" for url, label in links if url))


def error_response(code: int, message: str | None = None, *, headers: Mapping[str, str] | None = None,
                   layout: bool = True) -> Response:
    """The answer for an error `code`: its own `message`, or the code's usual one.

    layout=False for a request refused before anything may touch the database.
    """
    offline = bool(g.get("crm_database_unavailable"))
    language = session_or_browser_locale() if offline else _language()
    try:
        if offline:  # the signed-in user's choice is in the database: not asked again
            with force_locale(language):
                title, text, labels = _texts(code, message)
        else:
            title, text, labels = _texts(code, message)
    except Exception:  # the user's language could not be read: English
        log.debug("error page %s in English: no language", code, exc_info=True)
        language, layout = "en", False
        with force_locale("en"):
            title, text, labels = _texts(code, message)
    if wants_json() or is_screen_json_request():
        response = json_error(code, text)
    else:
        page = None
        if layout and not offline:
            try:
                page = _layout_page(code, title, text)
            except Exception:  # the layout needs the database (the user, the menu's permissions)
                log.warning("error page %s shown without the layout", code, exc_info=True)
        response = Response(page or _plain_page(title, text, labels, language), mimetype="text/html")
    response.status_code = code
    response.headers.update(headers or {})
    return response


def http_error(exc: HTTPException):
    """Werkzeug's errors and unhandled exceptions (a 500 wrapping them) as our error answer."""
    if exc.code is None or exc.code < 400:
        return exc
    if exc.code == 500:
        rollback_quietly()  # the failed request's transaction: the layout reads the user and the menu
    message = None
    if isinstance(exc, CSRFError):
        message = CSRF_MESSAGE
    elif exc.code != 500 and exc.description != type(exc).description:
        message = exc.description  # said on purpose where it was raised
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return error_response(exc.code, message, headers=headers)


def rollback_quietly() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the pool discards it
        log.debug("rollback after a failed request failed", exc_info=True)


def favicon() -> Response:
    """Browsers ask for it on every page (without it, each page view also logs a 404)."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon")


def refused_by_policy(exc: Exception):
    """A write that row-level security refused and no check before it caught: 403 with the reason, rolled back
    (a record out of scope is a 404 where it is looked up; here the user's own write was refused)."""
    retried = retry_dropped(exc)  # a custom column a DBA dropped by hand: reflected, and the request answered again
    if retried is not None:
        return retried
    if not out_of_scope(exc):
        raise exc  # another programming error: the 500 answer, logged
    rollback_quietly()
    log.info("row-level security refused a write: %s", getattr(exc, "orig", exc))
    return error_response(403, scope_message())


def init_error_pages(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)
    # the safety net of every path: the SQLAlchemy error, and psycopg's own where a cursor is used directly
    app.register_error_handler(ProgrammingError, refused_by_policy)
    app.register_error_handler(InsufficientPrivilege, refused_by_policy)
    app.add_url_rule("/favicon.ico", "favicon", favicon)

