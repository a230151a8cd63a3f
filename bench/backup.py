"""Backup timings on a private embedded PostgreSQL: full, incremental, verify (drill), restore.

    python -m bench.backup [--customers N] [--activities N] [--runs N] [--dir /tmp/bak-bench]

Prints median and p95 seconds per step and the data size; nothing is shared with a running app.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

from app import create_app
from app.backup.restoring import restore
from app.backup.settings import settings_from_config
from app.backup.taking import take_backup
from app.backup.verifying import verify
from app.ops.embedded_db import EmbeddedPostgres
from config import TestConfig


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"{name:<12} n={len(samples)}  median {statistics.median(samples):6.2f}s  p95 {p95:6.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bak-bench"))
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    server = EmbeddedPostgres(args.dir / "instance")
    server.start()
    try:
        app = create_app(TestConfig, INSTANCE_DIR=server.instance_dir, SECRET_KEY="bench")
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        server.psql(f"""
            INSERT INTO customers (name, industry, location)
              SELECT 'Customer ' || i, 'retail', 'City ' || (i % 50) FROM generate_series(1, {args.customers}) i;
            INSERT INTO activities (customer_id, type, subject, description)
              SELECT 1 + i % {args.customers}, 'call', 'Call ' || i, repeat('notes ', 10)
              FROM generate_series(1, {args.activities}) i;""")
        server.psql("VACUUM ANALYZE")
        size = server.psql("SELECT pg_size_pretty(pg_database_size('crm'))").strip()
        settings = settings_from_config(app.config, progress=False)
        settings.keep_chains = 100
        quiet = lambda *_: None  # noqa: E731
        results: dict[str, list[float]] = {"full": [], "incremental": [], "verify": [], "restore": []}
        for run in range(args.runs):
            results["full"].append(timed(lambda: take_backup(settings, "full", quiet)))
            server.psql(f"UPDATE activities SET subject = subject || '.' WHERE activity_id % 100 = {run}")
            results["incremental"].append(timed(lambda: take_backup(settings, "incremental", quiet)))
        latest = settings.catalog.get("latest")
        sizes = {b.kind: b.size for b in settings.catalog.good()}
        for run in range(min(args.runs, 3)):
            def drill():
                assert verify(settings, latest, quiet)["status"] == "passed"
            results["verify"].append(timed(drill))
            target = args.dir / f"restored-{run}"
            results["restore"].append(timed(lambda: restore(settings, latest, target, quiet)))
            shutil.rmtree(target)
        print(f"crm database {size} ({args.customers} customers, {args.activities} activities); "
              f"encrypted full {sizes['full'] / 1e6:.0f} MB, incremental {sizes['incremental'] / 1e6:.0f} MB")
        for name, samples in results.items():
            report(name, samples)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
