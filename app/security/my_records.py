"""Whose records a list shows: the "Mine / My team / All" switch of the owned tables' lists and the board.

The database already limits every query to the user's data scope (row-level security);
the switch narrows further, as ordinary list filters on the owner (`_flt_0_owner=<me>`,
`_flt_2_owner=<my team>`), so it shows as a filter chip, lives in the URL (bookmarks),
and bulk actions and exports act on what the list shows. "All" is the list without an
owner filter (`?view=all` when nothing else is set, the saved views' escape from the
default). A list opened with no argument opens on "Mine" for a member of a team whose scope
shows more than their own records, unless the user chose a default view of their own;
accounts outside teams (admins, auditors) open on all they may see, with the switch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlencode

from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterRelationOneToManyEqual
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, false, or_, select

from app.extensions import db
from app.lists.links import filter_index
from app.lists.scope import contactless_activities
from app.models import Activity, Contact, Customer, Team, User
from app.security.data_scopes import VIEW_LABELS, user_scope, view_choices

OWNER = "owner"  # the relationship of the owned tables' owner_id (app/models/crm.py)
KEY_MAX = 2**31 - 1


def _key(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and int(text) <= KEY_MAX else None


class FilterOwnerTeam(BaseFilter):
    """The owner is a member of team <value> (`_flt_2_owner=<team id>`)."""

    name = _l("In team")
    arg_name = "team"

    def apply(self, query, value):
        team = _key(value)
        if team is None:
            return query.filter(false())
        owner_id = getattr(self.model, "owner_id")
        return query.filter(owner_id.in_(select(User.user_id).where(User.team_id == team)))

    @staticmethod
    def shown(value: str) -> str:
        """The chip's value: the team's name."""
        team = _key(value)
        found = db.session.get(Team, team) if team is not None else None
        return found.name if found is not None else value


def _customers_of(owners: Any) -> Any:
    return select(Customer.customer_id).where(Customer.owner_id.in_(owners))


class FilterCustomerOwner(BaseFilter):
    """The record's customer is owned by user <value> (`_flt_<i>_customer=<user id>` on contacts and
    activities, whose rows follow their customer's owner as the row-level policies do; the dashboard's drill
    links use it)."""

    name = _l("owned by")
    arg_name = "owned_by"

    def owners(self, value: int) -> Any:
        return [value]

    def apply(self, query, value):
        key = _key(value)
        if key is None:
            return query.filter(false())
        customers = _customers_of(self.owners(key))
        condition = self.model.customer_id.in_(customers)
        if self.model is Activity and contactless_activities():  # one without a customer follows its contact's
            # (only then: the OR keeps the planner from starting at the owner's customers, 0.2 s -> 1.1 s at scale 1)
            condition = or_(condition, and_(self.model.customer_id.is_(None), self.model.contact_id.in_(
                select(Contact.contact_id).where(Contact.customer_id.in_(customers)))))
        return query.filter(condition)

    @staticmethod
    def shown(value: str) -> str:
        """The chip's value: the user's name."""
        key = _key(value)
        found = db.session.get(User, key) if key is not None else None
        return found.get_full_name() if found is not None else value


class FilterCustomerTeam(FilterCustomerOwner):
    """The record's customer is owned by a member of team <value> (`_flt_<i>_customer=<team id>`)."""

    name = _l("owned in team")
    arg_name = "owned_in_team"

    def owners(self, value: int) -> Any:
        return select(User.user_id).where(User.team_id == value)

    shown = staticmethod(FilterOwnerTeam.shown)


FOLLOWER_FILTERS = (FilterCustomerOwner, FilterCustomerTeam)  # on the `customer` column of contacts, activities


@dataclass
class Choice:
    key: str  # own | team | all
    label: str
    url: str
    active: bool


def owner_args(route_base: str) -> dict[str, str]:
    """{choice: URL argument name} of the owner filters on a list screen."""
    return {"own": f"_flt_{filter_index(route_base, OWNER, FilterRelationOneToManyEqual)}_{OWNER}",
            "team": f"_flt_{filter_index(route_base, OWNER, FilterOwnerTeam)}_{OWNER}"}


def follower_args(route_base: str) -> dict[str, str]:
    """{choice: URL argument name} of the customer's-owner filters on a contacts or activities list screen."""
    return {choice: f"_flt_{filter_index(route_base, 'customer', kind)}_customer"
            for choice, kind in zip(("own", "team"), FOLLOWER_FILTERS)}


BOARD_ARGS = {"own": "owner", "team": "team"}  # the board's (and dashboard's) arguments: /pipeline/?owner=5


def _value(user: Any, choice: str) -> int | None:
    return user.user_id if choice == "own" else user.team_id if choice == "team" else None


def switch(route_base: str, table: str, user: Any, args: Mapping[str, list[str]],
           paging: set[str] = frozenset()) -> list[Choice]:
    """The list's switch for this request (none when the user's scope shows only their own)."""
    names = owner_args(route_base)
    owner_keys = {k for k in args if k.endswith(f"_{OWNER}") and k.startswith("_flt_")}
    return choices_for(f"{route_base}/list/", table, user, args, names, owner_keys, set(paging))


def board_switch(user: Any, args: Mapping[str, list[str]]) -> list[Choice]:
    """The pipeline board's switch: `?owner=<me>`, `?team=<my team>`, or neither."""
    owner_keys = {k for k in args if k in BOARD_ARGS.values()}
    return choices_for("/pipeline/", "opportunities", user, args, BOARD_ARGS, owner_keys, set())


def choices_for(url: str, table: str, user: Any, args: Mapping[str, list[str]], names: dict[str, str],
                owner_keys: set[str], paging: set[str]) -> list[Choice]:
    """Each choice's URL (the other arguments kept, not the page) and whether this request is on it."""
    choices = view_choices(user_scope(table), getattr(user, "team_id", None) is not None)
    if len(choices) < 2:
        return []
    rest = [(k, v) for k, values in args.items() if k not in owner_keys | paging and k != "view" for v in values]
    current = {k: list(args[k]) for k in owner_keys}
    found = []
    for key in choices:
        value = _value(user, key)
        extra = [(names[key], str(value))] if value is not None else ([] if rest else [("view", "all")])
        wanted = {names[key]: [str(value)]} if value is not None else {}
        found.append(Choice(key, str(VIEW_LABELS[key]), f"{url}?{urlencode(rest + extra)}", current == wanted))
    return found


def opens_mine(table: str, user: Any) -> bool:
    """Whether a screen opened with no argument shows "Mine" first: a member of a team (sales staff) whose
    scope shows more. Accounts outside teams (admins, auditors, support) open on everything they may see,
    with the switch."""
    if getattr(user, "team_id", None) is None:
        return False
    return len(view_choices(user_scope(table), True)) >= 2


def opening_url(route_base: str, table: str, user: Any) -> str | None:
    """Where a list opened with no argument goes: "Mine", when the user's scope shows more."""
    if not opens_mine(table, user):
        return None
    return f"{route_base}/list/?{urlencode({owner_args(route_base)['own']: user.user_id})}"
