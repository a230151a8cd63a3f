"""A benchmark database: the embedded server in its own instance dir, migrated, filled to size."""
from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

DEFAULT_INSTANCE = Path("/tmp/crm-bench")


def bench_app(instance: Path):
    """The app on the benchmark instance (embedded PostgreSQL started if needed), migrated to head."""
    from flask_migrate import upgrade

    from app import create_app
    from config import Config

    app = create_app(Config, INSTANCE_DIR=instance, DEMO_DATA=False)
    with app.app_context():
        upgrade()
    return app


# a batch of the seed's loader references only its own rows: a table's parents get a row at least
PARENTS = {"contacts": ("customers",), "leads": ("contacts",), "opportunities": ("customers",),
           "activities": ("customers", "contacts"), "service_tickets": ("customers",)}


def fill(app, wanted: dict[str, int], echo=tqdm.write) -> dict[str, int]:
    """Top the tables up to `wanted` rows each with the seed's loader; returns the row counts afterwards."""
    import psycopg

    from app.encryption.columns import key_ring
    from app.ops.database import owner_conninfo
    from app.seed.loader import load
    from app.seed.plan import first_date

    conninfo = owner_conninfo(app.config)
    with psycopg.connect(conninfo) as conn:
        have = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in wanted}
    batch = {t: n - have[t] for t, n in wanted.items() if n > have[t]}
    pending = list(batch)
    while pending:
        for parent in PARENTS.get(pending.pop(), ()):
            if parent not in batch:
                batch[parent] = 1
                pending.append(parent)
    if batch:
        bars: list[tqdm] = []

        def progress(table: str, total: int):
            bars.append(tqdm(total=total, desc=table, unit="rows", unit_scale=True))
            return bars[-1].update

        try:
            load(conninfo, batch, key_ring(app.config["INSTANCE_DIR"]), start=first_date(), progress=progress,
                 echo=echo)
        finally:
            for bar in bars:
                bar.close()
    return {t: max(have[t], wanted[t]) for t in wanted}


def as_user(app, username: str):
    """scalar(sql) as `username` under row-level security (the admin: as the owner role, every row)."""
    from sqlalchemy import text

    from app.audit.context import act_as_user
    from app.extensions import db
    from app.ops.database import owner_engine

    def scalar(sql: str):
        if username == "admin":
            with owner_engine(app.config) as engine, engine.connect() as conn:
                return conn.scalar(text(sql))
        with app.app_context(), db.engine.connect() as conn:
            act_as_user(conn, username)
            return conn.scalar(text(sql))

    return scalar
