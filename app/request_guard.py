"""Refuse malformed list arguments with a 400 before FAB parses them.

FAB reads page_<View>, psize_<View>, _oc_<View> and _flt_<n>_<col> from the
query string with bare int() calls and getattr(); bad values would surface as
500s. Data the database refuses (a filter value of the wrong type, a primary
key out of range) becomes a 400 too, and the session is rolled back.
"""
from __future__ import annotations

import logging
import re

from flask import Flask, current_app, g, jsonify, render_template_string, request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError

from app.extensions import db

log = logging.getLogger(__name__)

MAX_PAGE = 1_000_000
MAX_PAGE_SIZE = 100
_INT = re.compile(r"\d{1,9}")


def _view_of_request():
    func = current_app.view_functions.get(request.endpoint or "")
    return getattr(func, "__self__", None)


def _sorted_view(name: str):
    """The view `_oc_<name>` sorts: the request's own list or a related list on its page."""
    view = _view_of_request()
    for candidate in (view, *getattr(view, "_related_views", ())):
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
    return None


def _bad_request(message: str):
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify(message=message), 400
    if "user" not in g:  # refused before FAB's own before_request ran: no layout to render
        return message, 400
    page = render_template_string(
        "{% extends appbuilder.base_template %}{% block content %}"
        "<div class='alert alert-danger'>{{ message }}</div>"
        "<a class='crm-back' href='{{ appbuilder.get_url_for_index }}'>{{ _('Back') }}</a>{% endblock %}",
        message=message, appbuilder=current_app.appbuilder)
    return page, 400


def init_request_guard(app: Flask) -> None:
    def guard_path() -> tuple[str, int] | None:
        # first of all hooks: a NUL in the path would reach PostgreSQL (sessions, audit context)
        if "\x00" in request.path:
            return "Malformed address.", 400
        return None

    app.before_request_funcs.setdefault(None, []).insert(0, guard_path)

    @app.before_request
    def guard_list_args():
        message = problem_with_args()
        if message:
            return _bad_request(message)
        return None

    @app.errorhandler(DataError)
    def data_error(exc: DataError):
        db.session.rollback()
        log.info("refused request with invalid data: %s", exc.orig)
        return _bad_request("A value in the request is not valid for its field.")
