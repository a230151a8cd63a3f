"""What each kind of request (its endpoint) was seen to read, so the session check reads it ahead.

Learnt per process from the requests: a list's data scopes ("sight", app/lists/scope.py) and its
saved views (app/lists/saved_views.py). The session check (app/security/sessions.py) names the
request's kind first; from the next request of that kind on, it reads what that kind read in its own
statement: one statement a list page fewer, and none when the user has no saved view of the list.
"""
from __future__ import annotations

from typing import Any

from flask import g

KIND_KEY = "crm_request_kind"  # flask.g: the request's kind, named by the session check
SIGHT = "sight"  # value: whether with the activities' contactless flag
SAVED_VIEWS = "saved_views"  # value: the list's view name
_LEARNT: dict[str, dict[str, Any]] = {}


def name_kind(kind: str | None) -> dict[str, Any]:
    """Name this request's kind; what requests of that kind read before (empty the first time)."""
    setattr(g, KIND_KEY, kind)
    return _LEARNT.get(kind or "", {})


def learn(what: str, value: Any) -> None:
    """This request read `what` (SIGHT or SAVED_VIEWS), with `value`: kept for its kind, if named."""
    kind = g.get(KIND_KEY)
    if kind is not None:
        _LEARNT.setdefault(kind, {})[what] = value


def learnt(what: str) -> Any:
    """What this request's kind was seen to read of `what` so far (None: never)."""
    return _LEARNT.get(g.get(KIND_KEY) or "", {}).get(what)
