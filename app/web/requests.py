"""What kind of request is being answered: a call to the REST API, a screen's JSON endpoint, a page."""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from flask import current_app, request

API_PREFIX = "/api/"
F = TypeVar("F", bound=Callable[..., Any])


def is_api_request() -> bool:
    """A call to the REST API (/api/...): JSON in and out, bearer tokens, no pages."""
    return request.path.startswith(API_PREFIX)


def accepts_json(view: F) -> F:
    """Mark a view outside /api/ that reads a JSON body (others answer a JSON body with 415)."""
    view.crm_accepts_json = True  # type: ignore[attr-defined]
    return view


def view_accepts_json() -> bool:
    """Whether the view this request is routed to is marked `accepts_json`."""
    return getattr(current_app.view_functions.get(request.endpoint or ""), "crm_accepts_json", False)


def is_screen_json_request() -> bool:
    """A screen's JSON endpoint (the pipeline board's moves), or JSON sent to a screen: answered {error}."""
    return not is_api_request() and (request.is_json or view_accepts_json())
