"""The (action, resource) pairs the signed-in user's roles grant, read once per request.

FAB asks has_access a dozen times a page (menu, buttons, bulk actions); the answers come from
one read of the roles' permissions, kept on `flask.g` for the request. The session check
reads a digest of the user's role's permissions in its own statement (`digest_of_role`): the
process keeps the pairs of each (role, digest) it met, so a page view pays no statement for
them, and a changed grant changes the digest, which reads the pairs again on the next request.
"""
from __future__ import annotations

import threading
from typing import Iterable

from flask import g, has_app_context
from sqlalchemy import ColumnElement, String, cast, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from app.models.security import Action, Permission, Resource, role_permissions

CACHE = "crm_permission_cache"  # flask.g: sorted role ids -> frozenset of (action, resource)
Pairs = frozenset[tuple[str, str]]


def _joined(columns):
    return (select(*columns).select_from(Action)
            .join(Permission, Permission.action_id == Action.id)
            .join(Resource, Resource.id == Permission.resource_id)
            .join(role_permissions, role_permissions.c.permission_id == Permission.permission_id))


def digest_of_role(role_id: ColumnElement[int]) -> ColumnElement:
    """A scalar subquery: an md5 of the role's permission ids, in order (NULL for none).

    A third of the cost of reading the pairs themselves (PostgreSQL's joins, the array's text,
    psycopg's parsing). A permission row names one (action, resource) for good: FAB and this
    app add and delete permissions, never point one at another pair, so the ids say the pairs.
    """
    ids = func.string_agg(cast(role_permissions.c.permission_id, String),
                          aggregate_order_by(",", role_permissions.c.permission_id))
    return select(func.md5(ids)).where(role_permissions.c.role_id == role_id).scalar_subquery()


# (database, role id, digest) -> the pairs: a few roles, each with its few recent digests; bounded below
# (the engine is in the key: tests run apps of several databases in one process)
_KNOWN: dict[tuple[object, int, str | None], Pairs] = {}
_KNOWN_LOCK = threading.Lock()
KNOWN_MAX = 256


def keep_digest(session: Session, role_id: int, digest: str | None) -> Pairs:
    """Keep for the request the pairs of the role whose permissions' digest the session check read.

    Read from the database when this process has not met this (role, digest) yet."""
    key = (session.get_bind(), role_id, digest)
    found = _KNOWN.get(key)
    if found is None:
        rows = session.execute(_joined([Action.name, Resource.name])
                               .where(role_permissions.c.role_id == role_id)).all()
        found = frozenset(map(tuple, rows))
        with _KNOWN_LOCK:
            if len(_KNOWN) >= KNOWN_MAX:  # roles are a handful: anything more is churn, start over
                _KNOWN.clear()
            _KNOWN[key] = found
    if has_app_context():
        g.setdefault(CACHE, {})[(role_id,)] = found
    return found


def keep(role_ids: tuple[int, ...], pairs: Iterable[Iterable[str]] | None) -> Pairs:
    """Keep for the request the pairs read for these (sorted) role ids; returns them."""
    found = frozenset(map(tuple, pairs or ()))  # each [action, resource] as a pair
    if has_app_context():
        g.setdefault(CACHE, {})[role_ids] = found
    return found


def granted(session: Session, role_ids: tuple[int, ...]) -> Pairs:
    """The pairs of these (sorted) role ids: kept by this request, else read now."""
    cache = g.get(CACHE) if has_app_context() else None
    if cache is not None and role_ids in cache:
        return cache[role_ids]
    rows = session.execute(_joined([Action.name, Resource.name])
                           .where(role_permissions.c.role_id.in_(role_ids))).all()
    return keep(role_ids, rows)
