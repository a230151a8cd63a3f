"""Encrypted amount columns in the ORM: plain `Decimal` attributes, ciphertext in the database.

`EncryptedAmount` looks like NUMERIC(18, 2) to forms, filters and API schemas,
but stores BYTEA and refuses to bind anything that is not already sealed, so a
plaintext amount can never reach SQL. Sealing needs the row's primary key (it is
the associated data), so it happens in `before_insert` / `before_update`, with
the id taken from the table's sequence before the INSERT; opening happens when a
row is loaded. Beside each encrypted column a coarse `<column>_band` (order of
magnitude) is kept for sorting and range filters.
"""
from __future__ import annotations

import os
from functools import lru_cache
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from flask import current_app, g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import LargeBinary, Numeric, SmallInteger, event, inspect, text
from sqlalchemy.orm import Mapper, attributes, mapped_column
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.state import InstanceState
from sqlalchemy.types import TypeDecorator

from app.encryption.keyring import KeyRing, load_key_ring
from app.fields.derived import columns_cache

AMOUNT_MAX = Decimal("9999999999999999.99")  # numeric(18, 2)
BAND_LABELS = (_l("under 1K"), "1K–10K", "10K–100K", "100K–1M", "1M–10M", "10M–100M", "100M–1B", _l("1B and more"))


class Sealed(bytes):
    """An encrypted value as stored (envelope bytes)."""


class EncryptedAmount(TypeDecorator):
    """A non-negative NUMERIC(18, 2) amount, stored as an AES-GCM envelope (BYTEA)."""

    impl = Numeric(18, 2)  # what FAB forms, filters and marshmallow schemas see
    cache_ok = True

    @property
    def python_type(self) -> type:
        return Decimal

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Any, dialect) -> bytes | None:
        if value is None or isinstance(value, Sealed):
            return None if value is None else bytes(value)
        raise TypeError("an encrypted amount reaches SQL only sealed: write it through the ORM "
                        "or app.encryption.columns.seal_rows(), and never compare it in SQL")

    def process_result_value(self, value: Any, dialect) -> Sealed | None:
        return None if value is None else Sealed(value)


def band_of(amount: Decimal | None) -> int | None:
    """Order of magnitude: 0 below 1,000, then one band per power of ten up to 1 billion."""
    if amount is None:
        return None
    return min(len(BAND_LABELS) - 1, max(0, len(str(int(amount))) - 3))


def band_label(band: int | None) -> str:
    return "—" if band is None else BAND_LABELS[band]


def band_column():
    """The coarse, non-sensitive companion of an encrypted amount column."""
    return mapped_column(SmallInteger, nullable=True, index=True)


def as_amount(value: Any) -> Decimal | None:
    """A valid amount or ValueError (the database cannot check a ciphertext's range)."""
    if value is None:
        return None
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite() or not Decimal(0) <= amount <= AMOUNT_MAX:
        raise ValueError(f"an amount must be between 0 and {AMOUNT_MAX:,}: {value!r}")
    return amount.quantize(Decimal("0.01"))


# ---------------------------------------------------------------- key ring in the app
_RING_CACHE: dict[str, tuple[int | None, KeyRing]] = {}
REQUEST_RING = "_crm_key_ring"  # flask.g: (instance dir, ring) checked by this request


def key_ring(instance_dir: str | Path | None = None) -> KeyRing:
    """The app's key ring; re-read when `rotate-key` (another process) changed the file.

    A request checks the file once: a list page opens one amount per row, and a stat each was
    a measurable share of it.
    """
    directory = str(instance_dir or current_app.config["INSTANCE_DIR"])
    space = g._get_current_object() if has_request_context() else None  # g once, not through the proxy twice
    checked = space.__dict__.get(REQUEST_RING) if space is not None else None
    if checked is not None and checked[0] == directory:
        return checked[1]
    ring = _checked_ring(directory)
    if space is not None:
        setattr(space, REQUEST_RING, (directory, ring))
    return ring


def _checked_ring(directory: str) -> KeyRing:
    cached = _RING_CACHE.get(directory)
    if cached and cached[1].path is None:
        return cached[1]
    ring = cached[1] if cached else load_key_ring(Path(directory))
    mtime = os.stat(ring.path).st_mtime_ns if ring.path else None
    if cached and cached[0] != mtime:
        ring = load_key_ring(Path(directory))
    _RING_CACHE[directory] = (mtime, ring)
    return ring


# ---------------------------------------------------------------- mapping
@columns_cache  # cleared when a custom field maps or unmaps a column (app/fields/reflect.py)
@lru_cache(maxsize=None)
def encrypted_columns(mapper: Mapper) -> list[tuple[str, str, str | None]]:
    """(attribute, column name, band attribute) of each encrypted column of a mapper."""
    found = []
    for column in mapper.local_table.columns:
        if isinstance(column.type, EncryptedAmount):
            band = f"{column.name}_band"
            prop = mapper.get_property_by_column(column)
            found.append((prop.key, column.name, band if band in mapper.attrs else None))
    return found


def primary_key_of(mapper: Mapper) -> str:
    return mapper.get_property_by_column(mapper.primary_key[0]).key


def next_ids(connection, table: str, pk_column: str, count: int) -> list[int]:
    """Ids from the table's sequence, taken before the INSERT so they can be sealed into values."""
    rows = connection.execute(text(
        "SELECT nextval(pg_get_serial_sequence(:table, :column)) FROM generate_series(1, :n)"),
        {"table": table, "column": pk_column, "n": count})
    return [r[0] for r in rows]


def seal_rows(connection, model: type, rows: list[dict]) -> list[dict]:
    """For Core bulk inserts: give each row its id, ciphertext and band (rows are changed in place)."""
    mapper = inspect(model)
    table, pk = mapper.local_table.name, primary_key_of(mapper)
    missing = [row for row in rows if row.get(pk) is None]
    for row, new_id in zip(missing, next_ids(connection, table, pk, len(missing)) if missing else []):
        row[pk] = new_id
    ring = key_ring()
    for attr, column, band in encrypted_columns(mapper):
        for row in rows:
            if attr not in row or isinstance(row[attr], Sealed):
                continue
            amount = as_amount(row[attr])
            row[attr] = None if amount is None else Sealed(ring.encrypt(amount, table, column, row[pk]))
            if band:
                row[band] = band_of(amount)
    return rows


def _seal(mapper: Mapper, connection, target: Any, inserting: bool) -> None:
    columns = encrypted_columns(mapper)
    if not columns:
        return
    table, pk = mapper.local_table.name, primary_key_of(mapper)
    plain: dict[str, Decimal | None] = {}
    for attr, column, band in columns:
        value = target.__dict__.get(attr)
        if isinstance(value, Sealed) or (not inserting and not attributes.get_history(target, attr).added):
            continue
        amount = as_amount(value)
        if getattr(target, pk) is None:
            setattr(target, pk, next_ids(connection, table, pk, 1)[0])
        plain[attr] = amount
        sealed = None if amount is None else Sealed(key_ring().encrypt(amount, table, column, getattr(target, pk)))
        setattr(target, attr, sealed)
        if band:
            setattr(target, band, band_of(amount))
    target._crm_plain = plain


def _after_write(_mapper: Mapper, _connection, target: Any) -> None:
    """Back to plain numbers in memory once the ciphertext is written."""
    for attr, amount in target.__dict__.pop("_crm_plain", {}).items():
        set_committed_value(target, attr, amount)


@columns_cache
@lru_cache(maxsize=None)
def _opening(cls: type) -> tuple[str, str, tuple[tuple[str, str], ...]] | None:
    """(table, primary key attribute, (attribute, column) of each encrypted column) of a mapped
    class, or None without encrypted columns: `_open` runs on every loaded row."""
    mapper = inspect(cls)
    columns = encrypted_columns(mapper)
    if not columns:
        return None
    return mapper.local_table.name, primary_key_of(mapper), tuple((attr, column) for attr, column, _ in columns)


QUERY_RING = "crm_key_ring"  # a query's context.attributes: the ring, looked up once per query


def _query_ring(context: Any) -> KeyRing:
    """The key ring for the rows of one query: a list page opens an amount on each of its rows."""
    space = getattr(context, "attributes", None)
    if space is None:
        return key_ring()
    ring = space.get(QUERY_RING)
    if ring is None:
        ring = space[QUERY_RING] = key_ring()
    return ring


def _unsealed(state: InstanceState, context: Any) -> list[tuple[str, Any]]:
    """(attribute, plain number) of each amount a row holds sealed, decrypted with the query's ring."""
    opening = _opening(state.class_)
    if opening is None:
        return []
    table, pk, columns = opening
    loaded = state.dict
    sealed = [(attr, column) for attr, column in columns if isinstance(loaded.get(attr), Sealed)]
    if not sealed:
        return []
    ring, key = _query_ring(context), loaded[pk] if pk in loaded else getattr(state.obj(), pk)
    return [(attr, ring.decrypt(loaded[attr], table, column, key)) for attr, column in sealed]


def _open_loaded(state: InstanceState, context: Any) -> None:
    """A row just loaded (a `load` listener, raw: given its state): its amounts in plain numbers.

    Nothing of a new row is modified yet, so each value is set in its dict directly:
    `set_committed_value` would only clear history and expiry the row does not have.
    """
    state.dict.update(_unsealed(state, context))


def _open(state: InstanceState, context: Any, *_args: Any) -> None:
    """Attributes of a known row loaded again (`refresh`: after an expiry or of a deferred column)."""
    target = state.obj()
    for attr, plain in _unsealed(state, context):
        set_committed_value(target, attr, plain)


def seal_before_insert(mapper: Mapper, connection, target: Any) -> None:
    _seal(mapper, connection, target, True)


def seal_before_update(mapper: Mapper, connection, target: Any) -> None:
    _seal(mapper, connection, target, False)


LISTENERS = (("before_insert", seal_before_insert), ("before_update", seal_before_update),
             ("after_insert", _after_write), ("after_update", _after_write),
             ("load", _open_loaded), ("refresh", _open))
RAW = frozenset({"load", "refresh"})  # given the row's state: no wrapper call per loaded row


def install(base: type) -> None:
    """Seal and open on every model of a declarative base (once; models without encrypted columns cost a scan).

    create_app calls it. Without it, EncryptedAmount refuses to bind any amount (never plaintext in SQL).
    """
    for name, listener in LISTENERS:
        if not event.contains(base, name, listener):
            event.listen(base, name, listener, propagate=True, raw=name in RAW)


def installed(base: type) -> bool:
    return all(event.contains(base, name, listener) for name, listener in LISTENERS)
