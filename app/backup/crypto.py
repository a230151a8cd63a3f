"""Encryption at rest for backup files: AES-256-GCM in authenticated chunks.

File layout: MAGIC | key id (8) | nonce prefix (8) | chunks. A chunk is a 4-byte
length then AES-GCM ciphertext+tag; its nonce is prefix + chunk number, and the
associated data binds the header, the chunk number and a last-chunk flag, so a
reordered, truncated or altered file fails to decrypt instead of restoring junk.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# No app import at module level: PostgreSQL's archive_command loads this file on its own
# (app/backup/walcmd.py), without the Flask app, once per WAL segment.

MAGIC = b"CRMBAK1\n"
CHUNK = 1 << 20
KEY_FILE = "backup-key"
KEY_ENV = "CRM_BACKUP_KEY"


class BackupCryptoError(Exception):
    """A backup file cannot be decrypted: wrong key, corrupted or truncated."""


def load_key(instance_dir: Path, environ: dict | os._Environ = os.environ) -> bytes:
    """The 32-byte key: CRM_BACKUP_KEY (base64), else the instance dir's backup-key (0600, made once)."""
    from app.ops.instance import read_or_create_secret

    encoded = environ.get(KEY_ENV) or read_or_create_secret(
        instance_dir, KEY_FILE, lambda: base64.b64encode(AESGCM.generate_key(256)).decode())[0]
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise BackupCryptoError(f"{KEY_ENV} / {KEY_FILE} is not base64") from exc
    if len(key) != 32:
        raise BackupCryptoError(f"the backup key must be 32 bytes (base64), got {len(key)}")
    return key


def derive_key(key: bytes, purpose: str) -> bytes:
    """A sub-key for one purpose: the WAL archive's key cannot open the base backups."""
    return hashlib.sha256(b"crm-backup-subkey:" + purpose.encode() + b":" + key).digest()


def key_id(key: bytes) -> str:
    """A public fingerprint of the key, to tell 'wrong key' from 'corrupted file'."""
    return hashlib.sha256(b"crm-backup-key-id" + key).hexdigest()[:16]


class EncryptingWriter:
    """File-like sink: plaintext in, encrypted chunks out; `close()` writes the last chunk."""

    def __init__(self, out: BinaryIO, key: bytes) -> None:
        self.out, self.aead = out, AESGCM(key)
        self.header = MAGIC + bytes.fromhex(key_id(key)) + os.urandom(8)
        self.counter, self.buffer, self.plain_bytes = 0, bytearray(), 0
        out.write(self.header)

    def write(self, data: bytes) -> int:
        self.buffer += data
        self.plain_bytes += len(data)
        while len(self.buffer) > CHUNK:  # keep at least one byte back: the last chunk is flagged
            self._emit(bytes(self.buffer[:CHUNK]), last=False)
            del self.buffer[:CHUNK]
        return len(data)

    def close(self) -> None:
        self._emit(bytes(self.buffer), last=True)
        self.buffer = bytearray()

    def _emit(self, chunk: bytes, last: bool) -> None:
        nonce = self.header[-8:] + struct.pack(">I", self.counter)
        sealed = self.aead.encrypt(nonce, chunk, _aad(self.header, self.counter, last))
        self.out.write(struct.pack(">I", len(sealed)) + sealed)
        self.counter += 1


class CompressingWriter:
    """zlib (level 1) in front of a writer: WAL's zero-filled tails and free-space maps shrink to nothing."""

    def __init__(self, writer: EncryptingWriter) -> None:
        self.writer, self.zlib = writer, zlib.compressobj(1)

    def write(self, data: bytes) -> int:
        self.writer.write(self.zlib.compress(data))
        return len(data)

    def close(self) -> None:
        self.writer.write(self.zlib.flush())
        self.writer.close()


def inflate(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress a stream written through CompressingWriter."""
    inflater = zlib.decompressobj()
    for chunk in chunks:
        while chunk:
            yield inflater.decompress(chunk, CHUNK)
            chunk = inflater.unconsumed_tail
    yield inflater.flush()


def _aad(header: bytes, counter: int, last: bool) -> bytes:
    return header + struct.pack(">I?", counter, last)


def decrypt_chunks(source: BinaryIO, key: bytes, name: str = "backup file") -> Iterator[bytes]:
    """Plaintext chunks of an encrypted file; raises BackupCryptoError on any tampering."""
    header = source.read(len(MAGIC) + 16)
    if len(header) != len(MAGIC) + 16 or not header.startswith(MAGIC):
        raise BackupCryptoError(f"{name}: not a CRM backup file (bad header)")
    if header[len(MAGIC):len(MAGIC) + 8].hex() != key_id(key):
        raise BackupCryptoError(f"{name}: encrypted with another key (key id {header[8:16].hex()})")
    aead, counter = AESGCM(key), 0
    pending = _read_sealed(source, name)
    while pending is not None:
        following = _read_sealed(source, name)
        last = following is None
        nonce = header[-8:] + struct.pack(">I", counter)
        try:
            yield aead.decrypt(nonce, pending, _aad(header, counter, last))
        except InvalidTag as exc:
            raise BackupCryptoError(f"{name}: chunk {counter} failed authentication "
                                    "(corrupted or truncated)") from exc
        pending, counter = following, counter + 1
    if counter == 0:
        raise BackupCryptoError(f"{name}: truncated (no data)")


def _read_sealed(source: BinaryIO, name: str) -> bytes | None:
    size = source.read(4)
    if not size:
        return None
    if len(size) != 4:
        raise BackupCryptoError(f"{name}: truncated chunk header")
    (length,) = struct.unpack(">I", size)
    if length > CHUNK + 16:
        raise BackupCryptoError(f"{name}: corrupted chunk length")
    sealed = source.read(length)
    if len(sealed) != length:
        raise BackupCryptoError(f"{name}: truncated chunk")
    return sealed


class DecryptingReader:
    """Readable file object over an encrypted file (for tarfile's stream mode)."""

    def __init__(self, source: BinaryIO, key: bytes, name: str, compressed: bool = False) -> None:
        self.chunks, self.buffer = decrypt_chunks(source, key, name), b""
        if compressed:
            self.chunks = inflate(self.chunks)

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        if size < 0:
            data, self.buffer = self.buffer, b""
        else:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def encrypt_bytes(data: bytes, key: bytes, out: BinaryIO) -> None:
    writer = EncryptingWriter(out, key)
    writer.write(data)
    writer.close()


def decrypt_file(path: Path, key: bytes) -> bytes:
    with open(path, "rb") as source:
        return b"".join(decrypt_chunks(source, key, path.name))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
