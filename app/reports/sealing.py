"""Money figures inside report snapshots are stored as ciphertext, like the encrypted amount columns.

A snapshot's counts stay readable JSON (the audit trail and SQL can see them);
each money figure (a sum of revenue or opportunity value, which for a group of
one customer is that customer's exact amount) becomes the string
"enc1:<base64 envelope>", sealed with the same key ring as the columns. The
associated data is the figure's place: "reports:data/<json path>:<report_id>",
so a figure copied to another group or snapshot fails to decrypt.

The ORM seals before every INSERT/UPDATE of `reports` and opens on load (listeners
installed by create_app, `install`), so code and forms see plain numbers; `crm rotate-key` re-seals figures under an
older key (see app/encryption/rotation.py).
"""
from __future__ import annotations

import base64
import binascii
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm.attributes import get_history, set_committed_value

from app.encryption.columns import key_ring, next_ids
from app.encryption.keyring import HEADER, DecryptionError, KeyRing, key_id_of
from app.reports import shapes

TABLE, COLUMN, PK = "reports", "data", "report_id"
PREFIX = "enc1:"
# every money figure of the schemas in app/reports/schemas (all other numbers are counts or rates)
MONEY_KEYS = frozenset({"value", "open_value", "won_value", "revenue"})


def _place(path: str) -> str:
    return f"{COLUMN}{path}"


def _walk(data: Any, change: Callable[[str, Any], Any], path: str = "") -> Any:
    """A copy of `data` with each money figure `value` at `path` replaced by change(path, value)."""
    if isinstance(data, dict):
        return {k: change(f"{path}/{k}", v) if k in MONEY_KEYS and not isinstance(v, (dict, list))
                else _walk(v, change, f"{path}/{k}") for k, v in data.items()}
    if isinstance(data, list):
        return [_walk(v, change, f"{path}/{i}") for i, v in enumerate(data)]
    return data


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def _envelope(value: str) -> bytes:
    try:
        return base64.b64decode(value[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return b""


def seal(data: Any, pk: int, ring: KeyRing) -> Any:
    """`data` with every plain money figure sealed (figures already sealed are kept)."""
    def one(path: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value  # None, an envelope, or a wrong type the shape check refuses
        envelope = ring.encrypt(Decimal(repr(value)), TABLE, _place(path), pk)
        return PREFIX + base64.b64encode(envelope).decode()
    return _walk(data, one)


def open_figures(data: Any, pk: int, ring: KeyRing) -> Any:
    """`data` with every sealed money figure opened to a number; DecryptionError when one does not open."""
    def one(path: str, value: Any) -> Any:
        if not is_sealed(value):
            return value
        return float(ring.decrypt(_envelope(value), TABLE, _place(path), pk))
    return _walk(data, one)


def redacted(data: Any) -> Any:
    """`data` with every plain money figure replaced by "[redacted]" (for copies that need no amounts)."""
    return _walk(data, lambda _path, value: "[redacted]" if isinstance(value, (int, float))
                 and not isinstance(value, bool) else value)


def _under(envelope: bytes, key_id: int) -> bool:
    return len(envelope) >= HEADER.size and key_id_of(envelope) == key_id


def pending(data: Any, active: int) -> int:
    """Sealed figures of `data` not under the active key."""
    found: list[bool] = []
    _walk(data, lambda _path, value: found.append(not _under(_envelope(value), active)) if is_sealed(value) else value)
    return sum(found)


def reseal(data: Any, pk: int, ring: KeyRing) -> tuple[Any, int]:
    """`data` with figures under an older key sealed again under the active one; and how many."""
    count = 0

    def one(path: str, value: Any) -> Any:
        nonlocal count
        envelope = _envelope(value) if is_sealed(value) else None
        if envelope is None or _under(envelope, ring.active):
            return value
        count += 1
        amount = ring.decrypt(envelope, TABLE, _place(path), pk)
        return PREFIX + base64.b64encode(ring.encrypt(amount, TABLE, _place(path), pk)).decode()
    return _walk(data, one), count


# ---------------------------------------------------------------- the ORM
def _check_and_seal(target: Any, connection: Any, inserting: bool) -> None:
    if not inserting and not get_history(target, "data").added and not get_history(
            target, "generated_at").added and not get_history(target, "report_type").added:
        return
    shapes.check(target.report_type, target.data, target.generated_at)
    if target.report_id is None:
        target.report_id = next_ids(connection, TABLE, PK, 1)[0]
    target._crm_plain_data = target.data
    target.data = seal(target.data, target.report_id, key_ring())


def seal_before_insert(_mapper: Any, connection: Any, target: Any) -> None:
    _check_and_seal(target, connection, True)


def seal_before_update(_mapper: Any, connection: Any, target: Any) -> None:
    _check_and_seal(target, connection, False)


def plain_after_write(_mapper: Any, _connection: Any, target: Any) -> None:
    if "_crm_plain_data" in target.__dict__:
        set_committed_value(target, "data", target.__dict__.pop("_crm_plain_data"))


def open_on_load(target: Any, *_args: Any) -> None:
    data = target.__dict__.get("data")
    if data is None or target.report_id is None:
        return
    try:
        set_committed_value(target, "data", open_figures(data, target.report_id, key_ring()))
    except DecryptionError:
        pass  # left sealed: the readers skip it with a note, the form refuses to save it as is


LISTENERS = (("before_insert", seal_before_insert), ("before_update", seal_before_update),
             ("after_insert", plain_after_write), ("after_update", plain_after_write),
             ("load", open_on_load), ("refresh", open_on_load))


def install(report_model: type) -> None:
    """Shape-check and seal every ORM write of a snapshot, open its figures on load (once; create_app calls it)."""
    for name, listener in LISTENERS:
        if not event.contains(report_model, name, listener):
            event.listen(report_model, name, listener)
