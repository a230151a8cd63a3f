"""The rows an AJAX select offers (`<screen>/lookup/?q=`): narrowed, matched by full name, told apart.

- Narrowed by the fields already chosen: `?customer=5` keeps the contacts of customer 5
  (any many-to-one of the looked-up table, by its relationship's name).
- A person is found by a full name in either order ("John Brown", "Brown John") and by a
  Chinese name written together ("王晓明": family name 王, given name 晓明).
- Each option says what tells it apart: contact – company; opportunity – customer – stage;
  customer – city or industry. The related rows come in the same statement (joined).

Every condition is one the existing indexes serve: trigram indexes for substrings of three
characters or more, the list indexes (btree) for exact short names, the foreign-key index
for the narrowing.
"""
from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import and_, inspect, or_, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.i18n.labels import choice_label
from app.models.names import name_splits
from app.models.searchable import title_columns
from app.search.text import like_pattern

LOOKUP_LIMIT = 20
QUERY_MAX = 100
TRIGRAM = 3  # shorter words cannot use a trigram index: they are matched exactly
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


def word_condition(column: Any, word: str) -> Any:
    return column.ilike(like_pattern(word), escape="\\") if len(word) >= TRIGRAM else column == word


def matching(model: type, query: str) -> Any:
    """Rows whose naming columns contain the query, or whose full name it is (either order), or its id."""
    pk = inspect(model).primary_key[0]
    conditions = [getattr(model, c).ilike(like_pattern(query), escape="\\") for c in title_columns(model)]
    if query.isdigit() and len(query) < 10:
        conditions.append(pk == int(query))
    columns = model.__table__.columns
    if "first_name" in columns and "last_name" in columns:
        conditions += [and_(word_condition(columns["first_name"], first), word_condition(columns["last_name"], last))
                       for first, last in name_splits(query)]
    return or_(*conditions)


def option_label(row: Any) -> str:
    """'John Brown – Acme'; 'Renewal – Acme – Proposal'; 'Acme – Shanghai'."""
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
    query = (args.get("q") or "").strip()[:QUERY_MAX]
    if query:
        stmt = stmt.where(matching(model, query))
    shown = [name for name in DISTINGUISHING.get(model.__tablename__, ()) if name in related]
    stmt = stmt.options(*(joinedload(related[name]) for name in shown))
    rows = db.session.scalars(stmt.order_by(pk).limit(limit)).unique().all()
    return [{"id": getattr(row, pk.key), "text": option_label(row)} for row in rows]
