"""Refuse malformed list arguments and request bodies with a 400 before FAB parses them.

FAB reads page_<View>, psize_<View>, _oc_<View> and _flt_<n>_<col> from the
query string with bare int() calls and getattr(), and the API's `q` without
range checks; bad values would surface as 500s (app/crud/query_args.py checks them).
A JSON body must be one object without NUL characters or lone surrogates (which
PostgreSQL cannot store), nested no deeper than Python can parse, and is taken
only by the API and by views marked `accepts_json`. Data the database refuses
(a value of the wrong type, a primary key out of range) becomes a 400 too, and
the session is rolled back.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, current_app, request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError
from werkzeug.exceptions import BadRequest

from app.web.errors import error_response
from app.extensions import db
from app.crud.query_args import MAX_PAGE, filter_args_problem, rison_problem
from app.web.requests import is_api_request, view_accepts_json

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
_INT = re.compile(r"\d{1,9}")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")  # NUL, lone surrogates: PostgreSQL text cannot hold them


def _view_of_request():
    func = current_app.view_functions.get(request.endpoint or "")
    return getattr(func, "__self__", None)


def _sorted_view(name: str):
    """The view `_oc_<name>` sorts: the request's own list or a related list on its page."""
    view = _view_of_request()
    related = getattr(view, "get_init_inner_views", lambda: None)()  # a ModelView's related lists; else None
    for candidate in (view, *(related or ())):
        if type(candidate).__name__ == name:
            return candidate
    return view


def problem_with_args() -> str | None:
    """A message naming the first malformed list argument, or None."""
    for name, value in request.args.items(multi=True):
        if "\x00" in value or "\x00" in name:
            return _("Argument %(name)s contains a NUL character.", name=repr(name))
        if name.startswith("page_") and not (_INT.fullmatch(value) and int(value) <= MAX_PAGE):
            return _("Page number must be a whole number from 0 to %(max)s.", max="{:,}".format(MAX_PAGE))
        if name.startswith("psize_") and not (_INT.fullmatch(value) and 1 <= int(value) <= MAX_PAGE_SIZE):
            return _("Page size must be a whole number from 1 to %(max)s.", max=MAX_PAGE_SIZE)
        if name.startswith("_oc_"):
            allowed = getattr(_sorted_view(name[4:]), "order_columns", None)
            if allowed is not None and value not in allowed:
                return _("Cannot sort by %(column)s.", column=repr(value))
    view = _view_of_request()
    return filter_args_problem(view) or rison_problem(view, (request.endpoint or "").rpartition(".")[2])


def _unstorable_text(document: Any) -> bool:
    """Whether a key or string anywhere in a parsed JSON document holds NUL or a lone surrogate."""
    pending = [document]
    while pending:  # not recursive: the document may be nested as deep as the parser allows
        item = pending.pop()
        if isinstance(item, dict):
            pending += item.keys()
            pending += item.values()
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, str) and _UNSTORABLE.search(item):
            return True
    return False


def problem_with_body() -> tuple[str, int] | None:
    """A message and status for a JSON body this request cannot take, or None."""
    if not request.is_json or not request.get_data(cache=True):  # also a chunked body (no Content-Length)
        return None
    if not is_api_request() and not view_accepts_json():
        return _("This address takes a form, not JSON."), 415
    try:
        document = request.get_json()
    except RecursionError:
        return _("The JSON body is nested too deeply."), 400
    except BadRequest:
        return _("The body is not valid JSON."), 400
    if not isinstance(document, dict):
        return _("The JSON body must be an object ({...})."), 400
    if _unstorable_text(document):
        return _("The JSON body contains a NUL character or an invalid (surrogate) character."), 400
    return None


def guard_path() -> Response | None:
    """A NUL in the path is a 400 before anything reads the path (app/web/hooks.py runs this first)."""
    if "\x00" in request.path:  # no layout either: it loads the user
        return error_response(400, _("Malformed address."), layout=False)
    return None


API_BODY_MAX = 2**20  # an API call writes one row: a megabyte is plenty (CSV files go to the screens)
API_URL_MAX = 8_192  # path and query of an API call; a q of 20 filters fits easily


def guard_api_size() -> Response | None:
    """An API call's address too long (414); its body is limited while it is read (413)."""
    if not is_api_request():
        return None
    request.max_content_length = API_BODY_MAX  # reading more raises RequestEntityTooLarge: a 413
    if len(request.path) + len(request.query_string) > API_URL_MAX:
        return error_response(414, _("The address is longer than %(max)s characters.", max="{:,}".format(API_URL_MAX)))
    return None


def guard_list_args() -> Response | None:
    """Malformed list arguments or a JSON body this address cannot take: 400 (or 415); an API call's size."""
    refused_size = guard_api_size()
    if refused_size is not None:
        return refused_size
    message = problem_with_args()
    if message:
        return error_response(400, message)
    refused = problem_with_body()
    if refused:
        message, status = refused
        return error_response(status, message)
    return None


def init_request_guard(app: Flask) -> None:
    """Data the database refuses is a 400 (the hooks above are registered by app/web/hooks.py)."""
    @app.errorhandler(DataError)
    def data_error(exc: DataError):
        db.session.rollback()
        log.info("refused request with invalid data: %s", exc.orig)
        return error_response(400, _("A value in the request is not valid for its field."))
