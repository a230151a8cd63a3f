"""The data key ring and the AES-GCM envelope of one encrypted value.

Keys live in `$CRM_INSTANCE_DIR/keys/data-keys.json` (mode 0600, generated at
first start) or, when set, in the `CRM_DATA_KEYS` environment variable (same
JSON). The ring keeps every key ever used, so values and older backups written
under a retired key still decrypt; new values use the active key.

Envelope: version byte | key id (4 bytes) | nonce (12 bytes) | AES-GCM(ciphertext + tag),
with "table:column:primary-key" as associated data, so a ciphertext copied to
another row or column fails to decrypt.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import struct
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Hashable, Iterable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.ops.instance import ensure_dir

KEY_FILE = Path("keys") / "data-keys.json"  # relative to the instance dir; never in backups
ENV_VAR = "CRM_DATA_KEYS"
FORMAT = 1
HEADER = struct.Struct(">BI")  # format version, key id
NONCE_BYTES = 12
# Every plaintext is padded to one width, so the ciphertext's length does not
# reveal the amount's number of digits (numeric(18,2) needs at most 19 characters).
PLAINTEXT_WIDTH = 24


class DecryptionError(Exception):
    """A stored value does not decrypt: wrong row, tampered bytes or an unknown key."""


def associated_data(table: str, column: str, pk: int) -> bytes:
    return f"{table}:{column}:{pk}".encode()


def key_id_of(envelope: bytes) -> int:
    return HEADER.unpack_from(envelope)[1]


@dataclass
class KeyRing:
    keys: dict[int, bytes]
    active: int
    path: Path | None = None  # None: given through the environment, read-only
    _ciphers: dict[int, AESGCM] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------ values
    def encrypt(self, amount: Decimal, table: str, column: str, pk: int) -> bytes:
        return self.encrypt_bytes(f"{amount:.2f}".ljust(PLAINTEXT_WIDTH).encode(), table, column, pk)

    def encrypt_bytes(self, plain: bytes, table: str, column: str, pk: int) -> bytes:
        """The envelope of any value (a webhook's secret); amounts go through encrypt()."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        body = self._cipher(self.active).encrypt(nonce, plain, associated_data(table, column, pk))
        return HEADER.pack(FORMAT, self.active) + nonce + body

    def decrypt(self, envelope: bytes, table: str, column: str, pk: int) -> Decimal:
        return Decimal(self.decrypt_bytes(envelope, table, column, pk).decode().strip())

    def decrypt_bytes(self, envelope: bytes, table: str, column: str, pk: int) -> bytes:
        """The plaintext of an envelope; DecryptionError when it is not this row's or is altered."""
        envelope = bytes(envelope)
        if len(envelope) < HEADER.size + NONCE_BYTES + 16:
            raise DecryptionError(f"{table}.{column} of row {pk}: not an encrypted value")
        version, key_id = HEADER.unpack_from(envelope)
        if version != FORMAT:
            raise DecryptionError(f"{table}.{column} of row {pk}: unknown format {version}")
        if key_id not in self.keys:
            raise DecryptionError(f"{table}.{column} of row {pk}: key {key_id} is not in the key ring")
        nonce = envelope[HEADER.size:HEADER.size + NONCE_BYTES]
        try:
            return self._cipher(key_id).decrypt(nonce, envelope[HEADER.size + NONCE_BYTES:],
                                                associated_data(table, column, pk))
        except InvalidTag:
            raise DecryptionError(f"{table}.{column} of row {pk} does not decrypt "
                                  "(copied from another row, or altered)") from None

    def sum_cents(self, rows: Iterable[tuple[int | str, bytes, Hashable]], table: str, column: str,
                  totals: dict[Hashable, int]) -> None:
        """Add each row's amount, in cents, to totals[key]; rows are (pk, envelope, key).

        A pk is a row's key, or the text a sum was sealed with (the dashboard facts' natural key).

        The same checks as decrypt(), cut down for millions of rows (report totals):
        the cipher is looked up once per envelope header, the plaintext is parsed as
        integer cents (exact, no Decimal per row), and an envelope that does not open
        here is passed to decrypt() for its precise error.
        """
        prefix = f"{table}:{column}:".encode()
        head = HEADER.size
        body = head + NONCE_BYTES
        ciphers: dict[bytes, AESGCM] = {}
        for pk, envelope, key in rows:
            cipher = ciphers.get(envelope[:head])
            if cipher is None:
                header = HEADER.unpack_from(envelope) if len(envelope) >= body + 16 else None
                if header is None or header[0] != FORMAT or header[1] not in self.keys:
                    self.decrypt(envelope, table, column, pk)  # raises the precise error
                cipher = ciphers[bytes(envelope[:head])] = self._cipher(header[1])
            try:
                place = b"%s%d" % (prefix, pk) if isinstance(pk, int) else prefix + pk.encode()
                text = cipher.decrypt(envelope[head:body], envelope[body:], place).rstrip()
            except InvalidTag:
                self.decrypt(envelope, table, column, pk)
                raise  # unreachable: decrypt() raised DecryptionError
            # encrypt() writes "%.2f": the point is third from the end; anything else is parsed exactly
            cents = int(text.replace(b".", b"")) if text[-3:-2] == b"." else int(Decimal(text.decode()) * 100)
            totals[key] = totals.get(key, 0) + cents

    def _cipher(self, key_id: int) -> AESGCM:
        if key_id not in self._ciphers:
            self._ciphers[key_id] = AESGCM(self.keys[key_id])
        return self._ciphers[key_id]

    # ------------------------------------------------------------ storage
    def to_json(self) -> str:
        return json.dumps({"active": self.active, "keys": {
            str(k): base64.b64encode(v).decode() for k, v in sorted(self.keys.items())}}, indent=1)

    @classmethod
    def from_json(cls, text: str, path: Path | None = None) -> "KeyRing":
        try:
            data = json.loads(text)
            keys = {int(k): base64.b64decode(v, validate=True) for k, v in data["keys"].items()}
            active = int(data["active"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"the data key ring ({path or ENV_VAR}) is malformed: {exc}") from None
        if active not in keys or any(len(k) != 32 for k in keys.values()):
            raise ValueError(f"the data key ring ({path or ENV_VAR}) needs 256-bit keys and an active key")
        return cls(keys, active, path)

    def add_key(self) -> int:
        """Generate a new key, make it active and save the ring; returns its id."""
        if self.path is None:
            raise RuntimeError(f"the key ring comes from {ENV_VAR}: add a key with a higher id there, "
                               "make it active, restart, then run rotate-key again")
        new_id = max(self.keys) + 1
        self.keys[new_id] = AESGCM.generate_key(bit_length=256)
        self.active = new_id
        self.save()
        return new_id

    def save(self) -> None:
        assert self.path is not None
        ensure_dir(self.path.parent).chmod(0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.to_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)  # atomic: an interrupted save keeps the old ring


def load_key_ring(instance_dir: Path, environ: Mapping[str, str] = os.environ) -> KeyRing:
    """The ring from the environment, else from the instance dir (created on first use)."""
    if environ.get(ENV_VAR):
        return KeyRing.from_json(environ[ENV_VAR])
    path = Path(instance_dir) / KEY_FILE
    if path.exists():
        return KeyRing.from_json(path.read_text(), path)
    ring = KeyRing({1: AESGCM.generate_key(bit_length=256)}, 1, path)
    ensure_dir(path.parent).chmod(0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(ring.to_json() + "\n")
    try:  # link, not rename: of two processes starting at once, the first ring wins
        os.link(tmp, path)
    except FileExistsError:
        ring = KeyRing.from_json(path.read_text(), path)
    finally:
        os.unlink(tmp)
    return ring
