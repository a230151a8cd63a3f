"""PostgreSQL's archive_command and restore_command: WAL files compressed and encrypted at rest.

    python walcmd.py push KEYFILE %p %f DIR [MIRROR]   (archive_command; every DIR gets a copy)
    python walcmd.py fetch KEYFILE %f %p DIR [MIRROR]  (restore_command; the first DIR that has it)

PostgreSQL runs it once per WAL segment as the server's account, so it is started as a file
(not `-m app...`): it loads crypto.py beside it and neither Flask nor the app (a tenth of a
second instead of a second and a half). The key file holds the WAL sub-key (crypto.derive_key),
which cannot open the base backups. Exit status 0 only once every copy is durable and checked.
"""
from __future__ import annotations

import base64
import importlib.util
import io
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    _spec = importlib.util.spec_from_file_location("crm_backup_crypto", Path(__file__).with_name("crypto.py"))
    crypto = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(crypto)
else:
    from app.backup import crypto

SUFFIX = ".zlib.enc"
ABORT_RECOVERY = 126


def read_key(key_file: str) -> bytes:
    return base64.b64decode(Path(key_file).read_text().strip(), validate=True)


def encrypted(plain: bytes, key: bytes, out) -> None:
    writer = crypto.CompressingWriter(crypto.EncryptingWriter(out, key))
    writer.write(plain)
    writer.close()


def decrypted(path: Path, key: bytes) -> bytes:
    with open(path, "rb") as source:
        return b"".join(crypto.inflate(crypto.decrypt_chunks(source, key, path.name)))


def _durable_write(target: Path, data: bytes) -> None:
    """Write, fsync, rename, fsync the directory: a crash leaves the old state or the whole file."""
    tmp = target.with_name(f".tmp-{target.name}")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def push(key: bytes, source: Path, name: str, directories: list[Path]) -> None:
    """Archive one WAL file into every directory; an existing copy must hold the same bytes."""
    plain = source.read_bytes()
    first: Path | None = None
    for directory in directories:
        target = directory / (name + SUFFIX)
        if target.exists():
            if decrypted(target, key) != plain:
                raise SystemExit(f"crm wal archive: {target} exists with other contents; not overwritten")
        elif first is None:
            sealed = io.BytesIO()
            encrypted(plain, key, sealed)
            _durable_write(target, sealed.getvalue())
        else:  # the mirror gets the very bytes of the first copy, checked by their SHA-256
            _durable_write(target, first.read_bytes())
            if crypto.sha256_file(target) != crypto.sha256_file(first):
                target.unlink()
                raise SystemExit(f"crm wal archive: the copy {target} differs from {first}")
        first = first or target


def fetch(key: bytes, name: str, destination: Path, directories: list[Path]) -> bool:
    """Restore one WAL file from the first directory that has a readable copy; False if none has it."""
    errors = []
    for directory in directories:
        path = directory / (name + SUFFIX)
        if not path.exists():
            continue
        try:
            plain = decrypted(path, key)
        except crypto.BackupCryptoError as exc:
            errors.append(str(exc))
            continue
        _durable_write(destination, plain)
        return True
    if errors:
        print("crm wal restore: " + "; ".join(errors), file=sys.stderr)
        # above 125: PostgreSQL aborts the recovery, instead of ending it early as at the archive's end
        raise SystemExit(ABORT_RECOVERY)
    return False


def main(argv: list[str]) -> int:
    command, key_file, first, second, *directories = argv
    key = read_key(key_file)
    dirs = [Path(d) for d in directories if d]
    if command == "push":
        push(key, Path(first), second, dirs)
        return 0
    if command == "fetch":
        return 0 if fetch(key, first, Path(second), dirs) else 1
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
