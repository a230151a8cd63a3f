"""A benchmark database: the embedded server in its own instance dir, migrated, filled to size."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from tqdm import tqdm

from app.seed import synthetic as synthetic_data

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


def libpq_url(app) -> str:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def loader_url(instance: Path) -> str:
    """The embedded superuser's URL, with row triggers off for the session.

    Benchmark rows are not user changes: the audit triggers (migration 0006) would
    write one log row per loaded row, and only a superuser may skip them
    (session_replication_role). The benchmark runs on its own embedded server.
    """
    from app.ops.embedded_db import SUPERUSER, EmbeddedPostgres

    from psycopg.conninfo import make_conninfo

    url = make_url(EmbeddedPostgres(instance).url(SUPERUSER)).set(drivername="postgresql")
    return make_conninfo(url.render_as_string(hide_password=False), options="-c session_replication_role=replica")


def fill(instance: Path, wanted: dict[str, int]) -> dict[str, int]:
    """Top the tables up to `wanted` rows each; returns the row counts afterwards."""
    import psycopg

    conninfo = loader_url(instance)
    with psycopg.connect(conninfo) as conn:
        have = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in wanted}
    missing = {t: n - have[t] for t, n in wanted.items() if n > have[t]}
    if missing:
        bars: list[tqdm] = []

        def progress(table: str, total: int):
            bars.append(tqdm(total=total, desc=table, unit="rows", unit_scale=True))
            return bars[-1].update

        synthetic_data.load(conninfo, missing, echo=tqdm.write, progress_factory=progress)
        for bar in bars:
            bar.close()
    return {t: max(have[t], wanted[t]) for t in wanted}
