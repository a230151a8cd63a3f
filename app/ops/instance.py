"""The instance directory: database files, keys and generated secrets (0600)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_or_create_secret(
    instance_dir: Path, name: str, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)
) -> tuple[str, bool]:
    """Return (secret, created). Created once with mode 0600; never logged."""
    path = ensure_dir(instance_dir) / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip(), False
    value = make()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value, True
