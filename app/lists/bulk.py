"""Bulk writes on a list's rows, set-based, in batches, all or nothing.

The rows are named by a query (the list's filters, or the keys a user ticked), never
loaded into Python: each batch is one `UPDATE ... WHERE pk IN (SELECT pk ... LIMIT n)`
or `DELETE`, walking the keys upwards. The audit triggers are row triggers, so each
changed row still gets its own log entry. Every batch runs in the caller's one
transaction: a refusal (a dependent row, a CHECK) rolls back every batch, so a bulk
operation is never half done (`BulkRefused` says why, in words).
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, exists, false, func, inspect, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Query, Session

from app.crud.lookups import many_to_one, narrowing_keys
from app.crud.refusals import friendly
from app.i18n.labels import column_label, label_for
from app.lists.counts import count_unordered

BATCH = 5_000  # rows per statement: bounded statements and key lists, one transaction
NAMED = 5  # rows a refusal names (the count says how many in all)


class BulkRefused(Exception):
    """The database refused the operation; nothing was changed (the caller rolls back)."""


@dataclass(frozen=True)
class Outcome:
    rows: int


def _keys(query: Query, model: type) -> tuple[Any, Query]:
    """The primary key attribute, and the query reduced to its keys (no rows loaded)."""
    mapper = inspect(model)
    (column,) = mapper.primary_key
    pk = getattr(model, mapper.get_property_by_column(column).key)
    return pk, query.with_entities(pk).order_by(None)


def count(query: Query, model: type) -> int:
    """How many rows the operation would touch (an exact count: the confirmation names it)."""
    _pk, keys = _keys(query, model)
    return count_unordered(keys)  # `_keys` leaves no order


def blocking_dependents(session: Session, query: Query, model: type) -> list[tuple[str, int]]:
    """(what, how many of the rows) for each kind of row that would block deleting them."""
    pk, keys = _keys(query, model)
    subject = keys.subquery()
    found = []
    for rel in inspect(model).relationships:
        if rel.direction.name != "ONETOMANY" or rel.passive_deletes != "all":
            continue
        child = rel.mapper.class_
        (_local, remote), = rel.local_remote_pairs
        blocked = session.scalar(select(func.count()).select_from(subject).where(
            exists().where(remote == subject.c[pk.key]).select_from(child)))
        if blocked:
            found.append((_(label_for(rel.mapper.local_table.name)).lower(), blocked))
    return found


def _batches(session: Session, query: Query, model: type, statement_for) -> int:
    pk, keys = _keys(query, model)
    done, last = 0, None
    while True:
        batch = keys if last is None else keys.filter(pk > last)
        chosen = batch.order_by(pk).limit(BATCH).scalar_subquery()
        statement = statement_for(pk.in_(chosen)).returning(pk).execution_options(synchronize_session=False)
        touched = session.execute(statement).scalars().all()
        if not touched:
            return done
        done += len(touched)
        last = max(touched)
        if len(touched) < BATCH:
            return done


def delete_rows(session: Session, query: Query, model: type) -> Outcome:
    """Delete the rows of `query`, or raise BulkRefused naming what still depends on them."""
    blocking = blocking_dependents(session, query, model)
    if blocking:
        what = ", ".join(_("%(n)s with %(what)s", n=f"{n:,}", what=w) for w, n in blocking)
        raise BulkRefused(_("Nothing was deleted: %(what)s. Delete or move those first.", what=what))
    try:
        return Outcome(_batches(session, query, model, lambda where: delete(model).where(where)))
    except SQLAlchemyError as exc:  # a dependant added meanwhile, or one no relationship names
        raise BulkRefused(_("Nothing was deleted: %(why)s", why=friendly(exc))) from exc


def set_column(session: Session, query: Query, model: type, column: str, value: Any) -> Outcome:
    """Set `column` to `value` on the rows of `query` (the row triggers bump version and updated_at)."""
    try:
        return Outcome(_batches(session, query, model,
                                lambda where: update(model).where(where).values({column: value})))
    except SQLAlchemyError as exc:
        raise BulkRefused(_("Nothing was changed: %(why)s", why=friendly(exc))) from exc


def _fk(model: type, key: str) -> Any:
    """The foreign-key attribute of `model`'s many-to-one relationship `key` (Activity.customer_id)."""
    (local,) = many_to_one(model)[key].local_columns
    return getattr(model, inspect(model).get_property_by_column(local).key)


def disagreeing(session: Session, query: Query, model: type, column: str, value: Any,
                fields: Collection[str]) -> Any:
    """Rows of `query` whose related rows would no longer agree once `column` is `value`, as the forms refuse
    (`app/crud/lookups.py`: `outside_choice`): a condition, and the (narrowed, narrowing) field names.

    Setting an activity's customer: rows whose contact belongs to another customer. Setting its contact:
    rows whose customer is not the contact's. A row without the other field, or a blank value, agrees.
    """
    relations = many_to_one(model)
    key = next((k for k, rel in relations.items() if _fk(model, k).key == column), None)
    if key is None or value is None:
        return false(), []
    target = relations[key].mapper.class_
    target_pk = inspect(target).primary_key[0]
    conditions, pairs = [], []
    for parent in narrowing_keys(model, key, fields):  # the chosen row's parent must be the row's
        owner = session.scalar(select(_fk(target, parent)).where(target_pk == value))
        row_parent = _fk(model, parent)
        conditions.append(row_parent.isnot(None) & row_parent.is_distinct_from(owner))
        pairs.append((key, parent))
    for other in fields:  # the rows' other related rows must belong to the chosen one
        if other in relations and other != key and key in narrowing_keys(model, other, fields):
            child = relations[other].mapper.class_
            conditions.append(exists().where(inspect(child).primary_key[0] == _fk(model, other),
                                             _fk(child, key).is_distinct_from(value)))
            pairs.append((other, key))
    return (or_(*conditions) if conditions else false()), pairs


def refuse_disagreeing(session: Session, query: Query, model: type, column: str, value: Any,
                       fields: Collection[str]) -> None:
    """Raise BulkRefused naming the rows that `disagreeing` finds; nothing is written before this check."""
    condition, pairs = disagreeing(session, query, model, column, value, fields)
    if not pairs:
        return
    found = query.filter(condition)
    total = count(found, model)
    if not total:
        return
    pk, _keys_only = _keys(found, model)
    named = [f"#{getattr(row, pk.key)} {row}" for row in found.order_by(pk).limit(NAMED)]
    if total > NAMED:
        named.append(_("and %(n)s more", n=f"{total - NAMED:,}"))
    table = model.__tablename__
    narrowed, narrowing = pairs[0]
    raise BulkRefused(_("Nothing was changed: on %(n)s of the selected rows the %(narrowed)s would not belong "
                        "to the %(narrowing)s (%(rows)s). Change those rows one by one, or leave them out.",
                        n=f"{total:,}", narrowed=str(column_label(table, narrowed)).lower(),
                        narrowing=str(column_label(table, narrowing)).lower(), rows="; ".join(named)))
