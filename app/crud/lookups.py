"""The rows an AJAX select offers (`<screen>/lookup/?q=`): narrowed, matched by full name, told apart.

- Narrowed by the fields already chosen: `?customer=5` keeps the contacts of customer 5
  (any many-to-one of the looked-up table, by its relationship's name).
- A person is found by a full name in either order ("John Brown", "Brown John") and by a
  Chinese name written together ("王晓明": family name 王, given name 晓明).
- Each option says what tells it apart: contact – company; opportunity – customer – stage;
  customer – city or industry. The related rows come in the same statement (joined).

Every condition is one the existing indexes serve (`app/search/conditions.py`): trigram
indexes for three characters or more, the word and CJK bigram indexes for shorter text, the
list indexes (btree) for the parts of a Chinese name, the foreign-key index for the
narrowing; a column no index serves for a short query is not searched. Matches are read
with the lists' index-lookup settings (no sequential scan), then ordered by their labels.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, false, inspect, or_, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.i18n.labels import choice_label
from app.lists.planner import INDEX_LOOKUP_SETTINGS, settings_in_force
from app.models.names import name_splits
from app.models.ownership import Team
from app.models.security import User
from app.models.searchable import title_columns, word_columns
from app.search.conditions import Terms, contains, starts_word
from app.search.text import has_cjk, like_pattern, normalize

LOOKUP_LIMIT = 20
QUERY_MAX = 100
SEPARATOR = " – "
# the columns that tell rows of a table apart, after the row's own name
DISTINGUISHING: dict[str, tuple[str, ...]] = {
    "contacts": ("customer",),
    "opportunities": ("customer", "stage"),
    "customers": ("location", "industry"),
    "leads": ("contact", "status"),
    "activities": ("customer", "type"),
    "service_tickets": ("customer", "status"),
}
FIRST_ONLY = {"customers"}  # a customer is told apart by its city, else its industry: one of them


def many_to_one(model: type) -> dict[str, Any]:
    """{relationship name: relationship} of a model's many-to-one relationships."""
    return {rel.key: rel for rel in inspect(model).relationships if rel.direction.name == "MANYTOONE"}


def narrowing(model: type, args: Mapping[str, str]) -> list:
    """Conditions from `?customer=5`-style arguments naming a many-to-one relationship of `model`."""
    found = []
    for key, rel in many_to_one(model).items():
        value = (args.get(key) or "").strip()
        if value.isdigit() and len(value) < 10 and len(rel.local_columns) == 1:
            found.append(next(iter(rel.local_columns)) == int(value))
    return found


def narrowing_keys(model: type, key: str, chosen: Iterable[str]) -> tuple[str, ...]:
    """The other relationships of `model` among `chosen` (a form's fields) that narrow relationship `key`.

    An activity's contact is narrowed by its customer: Contact has a many-to-one `customer`, and
    the activity's form chooses a `customer` too. The browser narrows the select (crm.js); the
    server refuses a choice outside it (`outside_choice`).
    """
    target = many_to_one(model)[key].mapper.class_
    chosen = set(chosen)
    return tuple(k for k in many_to_one(target) if k in chosen and k != key)


def belongs_to(row: Any, key: str, parent: Any) -> bool:
    """`row`'s many-to-one `key` is `parent`; True when either is not chosen."""
    if row is None or parent is None:
        return True
    rel = many_to_one(type(row))[key]
    (local,) = rel.local_columns
    value = getattr(row, inspect(type(row)).get_property_by_column(local).key)
    return value == inspect(parent).identity[0]


def _in_sentence(label: Any) -> str:
    text = str(label)
    return text.lower() if text.isascii() else text


def outside_choice(row: Any, label: Any, key: str, parent: Any, parent_label: Any) -> str | None:
    """The error for `row` (a field labelled `label`) chosen outside the rows of the chosen `parent`
    (its many-to-one `key`, a field labelled `parent_label`); None when it belongs."""
    if belongs_to(row, key, parent):
        return None
    return _("The %(what)s “%(chosen)s” does not belong to the chosen %(field)s “%(parent)s”.",
             what=_in_sentence(label), chosen=str(row), field=_in_sentence(parent_label), parent=str(parent))


def containing(model: type, name: str, text: str) -> Any:
    """`name` contains `text`, as an index serves it; None where no index can (a short query, e-mail)."""
    terms, column, worded = Terms(text), model.__table__.columns[name], name in word_columns(model)
    if terms.short_latin:
        return starts_word(column, terms) if worded and terms.has_prefix else None
    if terms.short and not worded:
        return None
    return contains(column, terms, worded)


def name_part(model: type, name: str, text: str) -> Any:
    """A part of a typed full name: a Chinese part is the whole name part (btree), others contained."""
    return model.__table__.columns[name] == text if has_cjk(text) else containing(model, name, text)


def matching(model: type, query: str) -> Any:
    """Rows whose naming columns contain the query, or whose full name it is (either order), or its id."""
    pk = inspect(model).primary_key[0]
    conditions = [containing(model, c, query) for c in title_columns(model)]
    if query.isdigit() and len(query) < 10:
        conditions.append(pk == int(query))
    columns = model.__table__.columns
    if "first_name" in columns and "last_name" in columns:
        for first, last in name_splits(query):
            parts = name_part(model, "first_name", first), name_part(model, "last_name", last)
            conditions.append(and_(*parts) if all(p is not None for p in parts) else None)
    found = [c for c in conditions if c is not None]
    return or_(*found) if found else false()


def option_label(row: Any) -> str:
    """'John Brown – Acme'; 'Renewal – Acme – Proposal'; 'Acme – Shanghai'; a user: user_label."""
    if isinstance(row, User):
        return user_label(row)
    table = row.__table__.name
    parts = [str(row)]
    for name in DISTINGUISHING.get(table, ()):
        value = getattr(row, name, None)
        if value is None or value == "":
            continue
        parts.append(str(choice_label(value)) if name in ("stage", "status", "type") else str(value))
        if table in FIRST_ONLY:
            break
    return SEPARATOR.join(parts)


def lookup_options(model: type, args: Mapping[str, str], limit: int = LOOKUP_LIMIT) -> list[dict]:
    """select2's results for `?q=` and the narrowing arguments: [{"id": 5, "text": "John Brown – Acme"}]."""
    pk = inspect(model).primary_key[0]
    related = many_to_one(model)
    stmt = select(model).where(*narrowing(model, args))
    shown = [name for name in DISTINGUISHING.get(model.__tablename__, ()) if name in related]
    stmt = stmt.options(*(joinedload(related[name]) for name in shown))
    query = normalize(args.get("q"))[:QUERY_MAX]
    if not query:
        rows = db.session.scalars(stmt.order_by(pk).limit(limit)).unique().all()
    else:
        # no key order: walking the primary key "until 20 match" reads the whole table for a rare name
        with settings_in_force(db.session, INDEX_LOOKUP_SETTINGS):  # a stopped lookup keeps its own error: a 503
            rows = db.session.scalars(stmt.where(matching(model, query)).limit(limit)).unique().all()
    options = [{"id": getattr(row, pk.key), "text": option_label(row)} for row in rows]
    return options if not query else sorted(options, key=lambda o: (o["text"], o["id"]))


def user_label(user: Any) -> str:
    """'Wang Xiaoming (wxm) – North team': the full name, the sign-in name, the team."""
    label = f"{user.get_full_name()} ({user.username})"
    team = getattr(user, "team", None)
    return f"{label}{SEPARATOR}{team}" if team is not None else label


def user_options(args: Mapping[str, str], limit: int = LOOKUP_LIMIT) -> list[dict]:
    """select2's results of active users for `?q=` (username, names or e-mail contain it); a few hundred
    accounts: scanned, no index needed."""
    query = normalize(args.get("q"))[:QUERY_MAX]
    stmt = select(User).where(User.active).options(joinedload(User.team))
    if query:
        like = like_pattern(query)
        stmt = stmt.where(or_(*(column.ilike(like, escape="\\") for column in
                                (User.username, User.first_name, User.last_name, User.email))))
    rows = db.session.scalars(stmt.order_by(User.username).limit(limit)).unique().all()
    return [{"id": row.user_id, "text": user_label(row)} for row in rows]


def team_options(args: Mapping[str, str], limit: int = LOOKUP_LIMIT) -> list[dict]:
    """select2's results of teams whose name contains `?q=` (a few dozen teams: scanned, no index needed)."""
    query = normalize(args.get("q"))[:QUERY_MAX]
    stmt = select(Team)
    if query:
        stmt = stmt.where(Team.name.ilike(like_pattern(query), escape="\\"))
    return [{"id": row.team_id, "text": row.name} for row in db.session.scalars(stmt.order_by(Team.name).limit(limit))]
