"""Re-encrypt every encrypted amount under the key ring's active key, in batches.

Each batch locks its rows (FOR UPDATE), re-encrypts them and commits, so an
interrupted run loses nothing and a second run continues where the first
stopped: rows already under the active key are skipped (the envelope's key id
is readable without decrypting).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable, Iterator

from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.encryption.columns import encrypted_columns
from app.encryption.keyring import HEADER, KeyRing


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    pk: str

    def _pending_where(self) -> str:
        # bytes 2..5 of the envelope are the key id (big-endian), see keyring.HEADER
        return (f"{self.column} IS NOT NULL AND substring({self.column} from 2 for {HEADER.size - 1}) "
                f"<> :key_id")

    def count_pending(self, conn, key_id: int) -> int:
        return conn.execute(text(f"SELECT count(*) FROM {self.table} WHERE {self._pending_where()}"),
                            {"key_id": _key_bytes(key_id)}).scalar_one()

    def next_batch(self, conn, key_id: int, after: int, size: int) -> list[tuple[int, bytes]]:
        return conn.execute(text(
            f"SELECT {self.pk}, {self.column} FROM {self.table} WHERE {self.pk} > :after "
            f"AND {self._pending_where()} ORDER BY {self.pk} LIMIT :size FOR UPDATE"),
            {"after": after, "size": size, "key_id": _key_bytes(key_id)}).fetchall()

    def write(self, conn, values: list[dict]) -> None:
        conn.execute(text(f"UPDATE {self.table} SET {self.column} = :sealed WHERE {self.pk} = :pk"), values)


def _key_bytes(key_id: int) -> bytes:
    return struct.pack(">I", key_id)


def all_encrypted_columns() -> list[EncryptedColumn]:
    from app.models import Model

    found = []
    for mapper in sorted(Model.registry.mappers, key=lambda m: m.local_table.name):
        for _attr, column, _band in encrypted_columns(mapper):
            pk = mapper.local_table.primary_key.columns[0].name
            found.append(EncryptedColumn(mapper.local_table.name, column, pk))
    return found


def count_pending(engine: Engine, ring: KeyRing) -> int:
    """Values not yet under the active key."""
    with engine.connect() as conn:
        return sum(c.count_pending(conn, ring.active) for c in all_encrypted_columns())


def reencrypt(engine: Engine, ring: KeyRing, batch_size: int = 1000,
              on_batch: Callable[[EncryptedColumn, int], None] = lambda _c, _n: None) -> int:
    """Re-encrypt every value under an older key; returns how many were re-encrypted."""
    done = 0
    for target in all_encrypted_columns():
        for values in _batches(engine, ring, target, batch_size):
            done += values
            on_batch(target, values)
    return done


def _batches(engine: Engine, ring: KeyRing, target: EncryptedColumn, size: int) -> Iterator[int]:
    after = 0
    while True:
        with engine.begin() as conn:  # one transaction per batch: an interruption loses one batch
            rows = target.next_batch(conn, ring.active, after, size)
            if not rows:
                return
            target.write(conn, [
                {"pk": pk, "sealed": ring.encrypt(ring.decrypt(sealed, target.table, target.column, pk),
                                                  target.table, target.column, pk)}
                for pk, sealed in rows])
        after = rows[-1][0]
        yield len(rows)


