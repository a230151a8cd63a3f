"""`flask --app run crm rotate-key`: a new data key, and every amount re-encrypted under it."""
from __future__ import annotations

from typing import Callable

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import Engine
from tqdm import tqdm

from app.encryption.columns import key_ring
from app.encryption.keyring import KeyRing
from app.encryption.rotation import count_pending, reencrypt
from app.ops.database import owner_engine


@click.command("rotate-key")
@with_appcontext
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=1000, show_default=True)
def rotate_key(batch_size: int) -> None:
    """Add a data key and re-encrypt every encrypted amount under it (safe to interrupt and re-run)."""
    from app.audit.record import record
    from app.fields.refresh import refresh_now

    refresh_now(current_app)  # custom financial amounts are encrypted columns too (mapped by reflection)
    # as the owner role: every row, whoever owns it (row-level security shows the app's role none without a user)
    with owner_engine(current_app.config) as engine:
        _rotate(engine, key_ring(), batch_size, record)


def _rotate(engine: Engine, ring: KeyRing, batch_size: int, record: Callable) -> None:
    pending = count_pending(engine, ring)
    if pending:
        click.echo(f"Finishing an unfinished rotation: {pending} values are not under key {ring.active} yet.")
    elif ring.path is None:
        raise click.ClickException(
            "every value is under the active key, and the key ring comes from CRM_DATA_KEYS: add a key "
            "with a higher id there, make it active, restart the app, then run rotate-key again")
    else:
        ring.add_key()
        click.echo(f"New key {ring.active} added to {ring.path} (older keys stay, for older backups).")
        pending = count_pending(engine, ring)
    try:
        with tqdm(total=pending, unit="value", desc=f"Re-encrypting under key {ring.active}") as bar:
            done = reencrypt(engine, ring, batch_size, lambda _column, n: bar.update(n))
    except KeyboardInterrupt:
        raise click.ClickException("interrupted; every finished batch is saved: run rotate-key again "
                                   "to finish") from None
    left = count_pending(engine, ring)
    record("data key rotated", {"key_id": ring.active, "values": done, "left": left})
    if left:  # written meanwhile by an app process that had not yet seen the new key
        raise click.ClickException(f"{left} values were written under an older key meanwhile: run "
                                   "rotate-key again")
    click.echo(f"Done: {done} values re-encrypted; every value is under key {ring.active}.")
