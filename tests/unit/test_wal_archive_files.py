"""The archive_command / restore_command program on files: encrypted copies, mirror, refusals."""
from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from app.backup import walcmd
from app.backup.crypto import derive_key


@pytest.fixture
def setup(tmp_path):
    key = derive_key(os.urandom(32), "wal")
    key_file = tmp_path / "wal-archive-key"
    key_file.write_text(base64.b64encode(key).decode())
    primary, mirror = tmp_path / "wal", tmp_path / "mirror-wal"
    primary.mkdir()
    mirror.mkdir()
    segment = tmp_path / "000000010000000000000007"
    segment.write_bytes(os.urandom(1000) + bytes((16 << 20) - 1000))  # a switched segment: zero tail
    return key_file, primary, mirror, segment


def run(*args) -> subprocess.CompletedProcess:
    """As PostgreSQL runs it: the file, without the app package."""
    return subprocess.run([sys.executable, walcmd.__file__, *map(str, args)], capture_output=True, text=True,
                          cwd="/")


def test_push_encrypts_into_both_dirs_and_fetch_reads_the_mirror_when_the_primary_is_gone(setup, tmp_path):
    key_file, primary, mirror, segment = setup
    assert run("push", key_file, segment, segment.name, primary, mirror).returncode == 0
    stored = primary / (segment.name + walcmd.SUFFIX)
    assert stored.read_bytes() == (mirror / stored.name).read_bytes()
    assert stored.stat().st_size < 100_000  # 16 MB compressed (zlib tops out near 1000:1), no plaintext
    assert segment.read_bytes()[:1000] not in stored.read_bytes()
    # PostgreSQL may archive a file again after a crash: the same bytes succeed, other bytes are refused
    assert run("push", key_file, segment, segment.name, primary, mirror).returncode == 0
    other = tmp_path / "other"
    other.write_bytes(b"x" * 100)
    refused = run("push", key_file, other, segment.name, primary, mirror)
    assert refused.returncode != 0 and "exists with other contents" in refused.stderr

    stored.unlink()
    assert run("fetch", key_file, segment.name, tmp_path / "RECOVERYXLOG", primary, mirror).returncode == 0
    assert (tmp_path / "RECOVERYXLOG").read_bytes() == segment.read_bytes()
    # a file the archive never had: exit 1, how recovery learns it reached the end of the archive
    assert run("fetch", key_file, "000000010000000000000099", tmp_path / "x", primary, mirror).returncode == 1


def test_a_corrupted_copy_is_skipped_for_the_intact_one_and_alone_it_fails_loudly(setup, tmp_path):
    key_file, primary, mirror, segment = setup
    assert run("push", key_file, segment, segment.name, primary, mirror).returncode == 0
    stored = primary / (segment.name + walcmd.SUFFIX)
    raw = bytearray(stored.read_bytes())
    raw[-20] ^= 0xFF
    stored.write_bytes(bytes(raw))
    assert run("fetch", key_file, segment.name, tmp_path / "a", primary, mirror).returncode == 0
    assert (tmp_path / "a").read_bytes() == segment.read_bytes()
    alone = run("fetch", key_file, segment.name, tmp_path / "b", primary)
    assert alone.returncode > 125  # not 1 ("no such file"): recovery must abort, not end early
    assert "failed authentication" in alone.stderr and not (tmp_path / "b").exists()
