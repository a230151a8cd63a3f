"""The loader options of a list's related rows (CrmInterface.with_related), built once per model."""
from __future__ import annotations

from functools import cache, lru_cache

from sqlalchemy import inspect
from sqlalchemy.orm import defer, joinedload, lazyload, selectinload

from app.encryption.columns import encrypted_columns
from app.fields.derived import columns_cache


@columns_cache  # a custom financial field adds an encrypted column to defer (app/fields/reflect.py)
@cache
def related_options(model: type, separately: bool) -> tuple:
    """Load each many-to-one relation's row: joined, or `separately` one more statement per relation.

    The related row alone: its own eager relations (a user's role) are read if ever asked, not
    joined to every row of every page (a list shows the owner's name); and without its encrypted
    amounts, which a list never shows of a related row (a contact's customer's revenue was decrypted
    on every row): read, and decrypted, if ever asked.
    """
    load = selectinload if separately else joinedload
    return tuple(load(getattr(model, rel.key)).options(
        *(defer(getattr(rel.mapper.class_, attr)) for attr, _column, _band in encrypted_columns(rel.mapper)),
        lazyload("*")) for rel in _many_to_one(model))


@lru_cache(maxsize=None)
def _many_to_one(model: type) -> list:
    return [rel for rel in inspect(model).relationships if rel.direction.name == "MANYTOONE"]
