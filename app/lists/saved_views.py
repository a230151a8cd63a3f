"""Saved list views: a user's named filters, sort, quick search and columns, kept in PostgreSQL.

A view is private, or shared with one role (readable by that role's members, editable by
its owner only). A user has at most one default view per list (a partial unique index):
the list opens with it when no argument is given.
"""
from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import ColumnElement, bindparam, func, or_, select, update

from app.extensions import db
from app.lists import reads_ahead
from app.models import SavedView

NAME_MAX = 100
ARG_PREFIXES = ("_flt_", "_oc_", "_od_", "psize_")  # the list's own arguments; `q` is the quick search


def list_args(args: dict[str, list[str]]) -> dict[str, list[str]]:
    """The arguments of `args` a saved view keeps: filters, sort, page size, quick search (not positions)."""
    return {name: [str(v) for v in values] for name, values in args.items()
            if (name == "q" or name.startswith(ARG_PREFIXES)) and values}


def visible(user_id: int, role_id: int | None, view_name: str) -> list[SavedView]:
    """The user's own views of a list and those shared with the user's role, by name.

    Read once per request: the list's default view and its "Views" menu both come from them.
    """
    memo = g.setdefault("crm_saved_views", {})
    key = (user_id, role_id, view_name)
    if key not in memo:
        reads_ahead.learn(reads_ahead.SAVED_VIEWS, view_name)
        memo[key] = _visible(user_id, role_id, view_name)
    return memo[key]


def count_column(user_id: ColumnElement[int], role_id: ColumnElement[int | None]) -> ColumnElement[int]:
    """How many views of the list named by the `saved_views_of` parameter `visible` would read."""
    return (select(func.count()).select_from(SavedView)
            .where(SavedView.view_name == bindparam("saved_views_of"),
                   or_(SavedView.user_id == user_id, SavedView.role_id == role_id))
            .scalar_subquery().label("saved_views"))


def keep_none(user_id: int, role_id: int | None, view_name: str) -> None:
    """The user sees no view of the list (`count_column` said 0): `visible` answers so without a statement."""
    g.setdefault("crm_saved_views", {})[(user_id, role_id, view_name)] = []


# built once: every list page reads it (a role_id of None matches no row: `role_id = NULL` is never true)
_VISIBLE = (select(SavedView)
            .where(SavedView.view_name == bindparam("view_name"),
                   or_(SavedView.user_id == bindparam("user_id"), SavedView.role_id == bindparam("role_id")))
            .order_by(SavedView.name, SavedView.saved_view_id))


def _visible(user_id: int, role_id: int | None, view_name: str) -> list[SavedView]:
    return list(db.session.scalars(_VISIBLE, {"view_name": view_name, "user_id": user_id, "role_id": role_id}))


def readable(view_id: int, user_id: int, role_id: int | None, view_name: str) -> SavedView | None:
    found = db.session.get(SavedView, view_id)
    if found is None or found.view_name != view_name:
        return None
    return found if found.user_id == user_id or (role_id is not None and found.role_id == role_id) else None


def default_for(user_id: int, role_id: int | None, view_name: str) -> SavedView | None:
    """The user's default view of the list (one of the visible ones: the user's own)."""
    return next((v for v in visible(user_id, role_id, view_name) if v.user_id == user_id and v.is_default), None)


def make_default(found: SavedView, on: bool) -> None:
    """Make `found` its owner's default view of its list (or no longer); the caller commits."""
    if on:
        db.session.execute(update(SavedView).where(
            SavedView.user_id == found.user_id, SavedView.view_name == found.view_name,
            SavedView.saved_view_id != found.saved_view_id, SavedView.is_default).values(is_default=False))
        db.session.flush()  # the partial unique index allows one default at a time
    found.is_default = on


def save(user_id: int, view_name: str, name: str, role_id: int | None, args: dict[str, Any],
         columns: list[str], is_default: bool) -> SavedView:
    """A new view, or the user's view of that name replaced; the caller commits."""
    found = db.session.scalar(select(SavedView).where(SavedView.user_id == user_id,
                                                      SavedView.view_name == view_name, SavedView.name == name))
    if found is None:
        found = SavedView(user_id=user_id, view_name=view_name, name=name)
        db.session.add(found)
    found.role_id, found.args, found.columns = role_id, list_args(args), list(columns)
    db.session.flush()
    make_default(found, is_default)
    return found
