"""Re-encrypt every encrypted amount (columns, report snapshots' money figures and the dashboard facts' sealed
sums) under the active key, in batches.

Each batch locks its rows (FOR UPDATE), re-encrypts them and commits, so an
interrupted run loses nothing and a second run continues where the first
stopped: rows already under the active key are skipped (the envelope's key id
is readable without decrypting).
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Callable, Iterator

from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.encryption.columns import encrypted_columns
from app.encryption.keyring import HEADER, KeyRing
from app.reports import facts
from app.reports.sealing import PREFIX, pending, reseal


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
        # the same amount under a new key is no change for webhook subscribers (migration 0021)
        conn.execute(text("SELECT set_config('crm.webhooks', 'off', true)"))
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


# the dashboard's sealed sums: keyed by their natural key (six columns), which is also their associated data
FACT_KEY = "metric, grain, holder, day, k1, k2"
FACT_PENDING = f"{facts.COLUMN} IS NOT NULL AND substring({facts.COLUMN} from 2 for {HEADER.size - 1}) <> :key_id"


SNAPSHOTS = EncryptedColumn("reports", "data", "report_id")  # money figures inside the JSON (app/reports/sealing.py)
FACTS = EncryptedColumn(facts.TABLE, facts.COLUMN, FACT_KEY)  # the dashboard's sums (app/reports/facts.py)
SEALED_SNAPSHOTS = "SELECT report_id, data FROM reports WHERE data::text LIKE :sealed"
SEALED = {"sealed": f'%"{PREFIX}%'}


def count_pending(engine: Engine, ring: KeyRing) -> int:
    """Values not yet under the active key."""
    with engine.connect() as conn:
        in_columns = sum(c.count_pending(conn, ring.active) for c in all_encrypted_columns())
        in_columns += conn.execute(text(f"SELECT count(*) FROM {facts.TABLE} WHERE {FACT_PENDING}"),
                                   {"key_id": _key_bytes(ring.active)}).scalar_one()
        rows = conn.execution_options(stream_results=True, yield_per=1000).execute(text(SEALED_SNAPSHOTS), SEALED)
        return in_columns + sum(pending(data, ring.active) for _pk, data in rows)


def reencrypt(engine: Engine, ring: KeyRing, batch_size: int = 1000,
              on_batch: Callable[[EncryptedColumn, int], None] = lambda _c, _n: None) -> int:
    """Re-encrypt every value under an older key; returns how many were re-encrypted."""
    done = 0
    for target, batches in [(t, _batches(engine, ring, t, batch_size)) for t in all_encrypted_columns()] + [
            (SNAPSHOTS, _snapshot_batches(engine, ring, batch_size)),
            (FACTS, _fact_batches(engine, ring, batch_size))]:
        for values in batches:
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


def _snapshot_batches(engine: Engine, ring: KeyRing, size: int) -> Iterator[int]:
    """Like _batches, for the sealed figures of report snapshots (rows whose figures are all current are kept)."""
    after = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(text(f"{SEALED_SNAPSHOTS} AND report_id > :after ORDER BY report_id LIMIT :size "
                                     "FOR UPDATE"), {"after": after, "size": size, **SEALED}).fetchall()
            if not rows:
                return
            changed, values = [], 0
            for pk, data in rows:
                new, count = reseal(data, pk, ring)
                if count:
                    changed.append({"pk": pk, "data": json.dumps(new, ensure_ascii=False)})
                    values += count
            if changed:
                conn.execute(text("UPDATE reports SET data = CAST(:data AS jsonb) WHERE report_id = :pk"), changed)
        after = rows[-1][0]
        yield values


def _fact_batches(engine: Engine, ring: KeyRing, size: int) -> Iterator[int]:
    """Like _batches, for the dashboard facts' sealed sums (a rebuild meanwhile seals under the active key)."""
    after: tuple | None = None
    names = [f"a{i}" for i in range(6)]
    while True:
        with engine.begin() as conn:
            since = "" if after is None else f" AND ({FACT_KEY}) > ({', '.join(':' + n for n in names)})"
            rows = conn.execute(text(
                f"SELECT {FACT_KEY}, {facts.COLUMN} FROM {facts.TABLE} WHERE {FACT_PENDING}{since} "
                f"ORDER BY {FACT_KEY} LIMIT :size FOR UPDATE"),
                {"key_id": _key_bytes(ring.active), "size": size, **dict(zip(names, after or ()))}).fetchall()
            if not rows:
                return
            values = []
            for metric, grain, holder, day, k1, k2, sealed in rows:
                place = facts.place(metric, grain, (day, holder, k1, k2))
                amount = ring.decrypt(sealed, facts.TABLE, facts.COLUMN, place)  # type: ignore[arg-type]
                values.append({**dict(zip(names, (metric, grain, holder, day, k1, k2))),
                               "sealed": ring.encrypt(amount, facts.TABLE, facts.COLUMN, place)})  # type: ignore
            conn.execute(text(f"UPDATE {facts.TABLE} SET {facts.COLUMN} = :sealed WHERE ({FACT_KEY}) = "
                              f"({', '.join(':' + n for n in names)})"), values)
        after = tuple(rows[-1][:6])
        yield len(rows)
