"""API keys made as an operator makes them (`crm apikey create`), and the header that sends one."""
from __future__ import annotations

import re

from flask import Flask

from tests.support.cli import crm_cli

KEY_RE = re.compile(r"^crm_[A-Za-z0-9_-]{43}$", re.MULTILINE)


def create_key(app: Flask, user: str = "admin", name: str = "integration", *extra: str) -> str:
    """`crm apikey create`; returns the key it printed (once)."""
    result = crm_cli(app, "apikey", "create", "--user", user, "--name", name, *extra)
    assert result.exit_code == 0, result.output
    match = KEY_RE.search(result.stdout)
    assert match, result.output
    return match.group(0)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
