"""The loader options of a list's related rows (CrmInterface.with_related), built once per model."""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import inspect
from sqlalchemy.orm import defer, joinedload, lazyload, selectinload

from app.encryption.columns import encrypted_columns

# (model, separately) -> (the related models' encrypted columns when built, the options)
_BUILT: dict[tuple[type, bool], tuple[list, tuple]] = {}


def related_options(model: type, separately: bool) -> tuple:
    """Load each many-to-one relation's row: joined, or `separately` one more statement per relation.

    The related row alone: its own eager relations (a user's role) are read if ever asked, not
    joined to every row of every page (a list shows the owner's name); and without its encrypted
    amounts, which a list never shows of a related row (a contact's customer's revenue was decrypted
    on every row): read, and decrypted, if ever asked. Built again when a related table's encrypted
    columns changed (a custom financial field: app/fields).
    """
    relations = _many_to_one(model)
    amounts = [encrypted_columns(rel.mapper) for rel in relations]  # cached lists: the same until changed
    built = _BUILT.get((model, separately))
    if built is not None and all(a is b for a, b in zip(built[0], amounts)):
        return built[1]
    load = selectinload if separately else joinedload
    options = tuple(load(getattr(model, rel.key)).options(
        *(defer(getattr(rel.mapper.class_, attr)) for attr, _column, _band in encrypted), lazyload("*"))
        for rel, encrypted in zip(relations, amounts))
    _BUILT[(model, separately)] = (amounts, options)
    return options


@lru_cache(maxsize=None)
def _many_to_one(model: type) -> list:
    return [rel for rel in inspect(model).relationships if rel.direction.name == "MANYTOONE"]
