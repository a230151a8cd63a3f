"""The key ring's bulk sum of encrypted amounts: exact cents under every key id, as strict as decrypt."""
from __future__ import annotations

import random
import secrets
from collections import defaultdict
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.encryption.columns import AMOUNT_MAX
from app.encryption.keyring import HEADER, DecryptionError, KeyRing


def _ring() -> KeyRing:
    return KeyRing({1: AESGCM.generate_key(bit_length=256), 2: AESGCM.generate_key(bit_length=256)}, active=1)


def test_sum_cents_adds_exact_cents_per_key_under_every_key_id():
    ring, rng = _ring(), random.Random(6)
    rows, expected = [], defaultdict(int)
    for pk in range(1, 600):
        ring.active = 1 if pk % 3 else 2  # values written before and after a key rotation
        amount = [Decimal("0.00"), AMOUNT_MAX, Decimal("0.01"),
                  Decimal(rng.randint(0, 10**12)) / 100][pk % 4]
        key = ("won" if pk % 2 else "lost", f"2026-{pk % 12 + 1:02d}")
        rows.append((pk, ring.encrypt(amount, "opportunities", "value", pk), key))
        expected[key] += int(amount * 100)
    totals: dict = {"carried": 7}  # adds to what is there
    ring.sum_cents(iter(rows), "opportunities", "value", totals)
    assert totals == {"carried": 7, **expected}
    assert sum(expected.values()) == sum(int(ring.decrypt(e, "opportunities", "value", pk) * 100)
                                         for pk, e, _k in rows)
    # a plaintext without exactly two decimals (not what encrypt() writes) is still parsed exactly
    nonce = secrets.token_bytes(12)
    odd = HEADER.pack(1, 1) + nonce + ring._cipher(1).encrypt(nonce, b"12.5".ljust(24), b"customers:revenue:9")
    totals = {}
    ring.sum_cents([(9, odd, None)], "customers", "revenue", totals)
    assert totals == {None: 1250}


@pytest.mark.parametrize("spoil,message", [
    (lambda e, other: other, "does not decrypt"),  # another row's ciphertext
    (lambda e, other: e[:-1] + bytes([e[-1] ^ 1]), "does not decrypt"),  # altered
    (lambda e, other: HEADER.pack(1, 99) + e[HEADER.size:], "key 99 is not in the key ring"),
    (lambda e, other: e[:20], "not an encrypted value"),
])
def test_sum_cents_refuses_what_decrypt_refuses(spoil, message):
    ring = _ring()
    good = [(pk, ring.encrypt(Decimal(pk), "opportunities", "value", pk), "k") for pk in (1, 2)]
    bad = (3, spoil(ring.encrypt(Decimal(3), "opportunities", "value", 3), good[0][1]), "k")
    with pytest.raises(DecryptionError, match=f"opportunities.value of row 3.*{message}|{message}") as caught:
        ring.sum_cents(good + [bad], "opportunities", "value", {})
    assert "row 3" in str(caught.value)
    with pytest.raises(DecryptionError) as direct:
        ring.decrypt(bad[1], "opportunities", "value", 3)
    assert str(direct.value) == str(caught.value)
