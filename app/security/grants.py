"""The (action, resource) pairs the signed-in user's roles grant, read once per request.

FAB asks has_access a dozen times a page (menu, buttons, bulk actions); the answers come from
one read of the roles' permissions, kept on `flask.g` for the request. The session check
reads the user's role's pairs in its own statement (`pairs_of_role`), so a page view pays
no statement for them.
"""
from __future__ import annotations

from typing import Iterable

from flask import g, has_app_context
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.types import NullType
from sqlalchemy.orm import Session

from app.models.security import Action, Permission, Resource, role_permissions

CACHE = "crm_permission_cache"  # flask.g: sorted role ids -> frozenset of (action, resource)
Pairs = frozenset[tuple[str, str]]


def _joined(columns):
    return (select(*columns).select_from(Action)
            .join(Permission, Permission.action_id == Action.id)
            .join(Resource, Resource.id == Permission.resource_id)
            .join(role_permissions, role_permissions.c.permission_id == Permission.permission_id))


def pairs_of_role(role_id: ColumnElement[int]) -> ColumnElement:
    """A scalar subquery: the role's pairs as an array of [action, resource] (NULL for none).

    Read as psycopg gives it (lists of [action, resource]): typed ARRAY, SQLAlchemy would copy
    the role's hundred-odd pairs into new lists element by element on every request.
    """
    pairs = func.array_agg(array([Action.name, Resource.name]), type_=NullType())
    return _joined([pairs]).where(role_permissions.c.role_id == role_id).scalar_subquery()


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
