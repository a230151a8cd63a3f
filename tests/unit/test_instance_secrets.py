"""Generated secrets in the instance directory: made once, 0600, never seen half-written by a racing process."""
from __future__ import annotations

import multiprocessing
import secrets
import stat
import time
from pathlib import Path

from app.ops.instance import read_or_create_secret


def _slow_secret() -> str:
    time.sleep(0.2)  # a key that takes a while to make: the others start reading meanwhile
    return secrets.token_urlsafe(32)


def _read(directory: str, start, found) -> None:
    start.wait()
    found.put(read_or_create_secret(Path(directory), "race-key", _slow_secret)[0])


def test_processes_starting_together_all_read_one_whole_secret(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    start, found = context.Event(), context.Queue()
    workers = [context.Process(target=_read, args=(str(tmp_path), start, found)) for _ in range(8)]
    for worker in workers:
        worker.start()
    start.set()
    values = [found.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    on_disk = (tmp_path / "race-key").read_text().strip()
    assert len(on_disk) >= 40 and values == [on_disk] * len(workers)
    assert stat.S_IMODE((tmp_path / "race-key").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["race-key"]  # no temporary file left behind


def test_a_secret_is_made_once_then_read(tmp_path: Path) -> None:
    first, created = read_or_create_secret(tmp_path, "k", lambda: "one")
    again, created_again = read_or_create_secret(tmp_path, "k", lambda: "two")
    assert (first, created, again, created_again) == ("one", True, "one", False)
