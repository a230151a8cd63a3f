"""The instance directory: database files, keys and generated secrets (0600)."""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Callable


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_or_create_secret(
    instance_dir: Path, name: str, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)
) -> tuple[str, bool]:
    """Return (secret, created). Created once with mode 0600; never logged.

    Several processes start at once (gunicorn workers, the scheduler): the secret is written to a
    private temporary file first and linked into place, so no reader ever sees an empty or partial
    file, and the first link wins (the others read the winner's secret).
    """
    path = ensure_dir(instance_dir) / name
    if path.exists():
        return path.read_text().strip(), False
    value = make()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        os.link(temporary, path)
    except FileExistsError:
        return path.read_text().strip(), False
    finally:
        os.unlink(temporary)
    return value, True
