"""`flask --app run crm seed --scale S`: bulk-load a realistic synthetic data set."""
from __future__ import annotations

import shutil
from pathlib import Path

import click
import psycopg
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from app.audit.maintenance import maintain_logs
from app.audit.record import record
from app.ops.database import owner_conninfo
from app.encryption.columns import key_ring
from app.seed import staff
from app.seed.loader import load
from app.seed.plan import ScaleError, counts_for_scale, first_date, needed_bytes


def _check_disk(config, scale: float) -> None:
    if config.get("DATABASE_URL"):
        return  # an external server's disk is not ours to measure
    pgdata = Path(config["INSTANCE_DIR"]) / "pgdata"
    free, needed = shutil.disk_usage(pgdata).free, needed_bytes(scale)
    if free < needed:
        raise click.ClickException(f"scale {scale:g} needs about {needed / 1e9:.1f} GB free next to {pgdata}; "
                                   f"{free / 1e9:.1f} GB are free")


@click.command("seed")
@with_appcontext
@click.option("--scale", type=float, default=None,
              help="1 = 1M customers, 2M contacts, 1M leads, 2M opportunities, 10M activities, "
                   "1M tickets, 20M log rows, 200 users in 20 teams; 0.01 = a hundredth of that.")
@click.option("--owners-only", is_flag=True,
              help="Load nothing: give every row without an owner one of the staff in teams (resumable; "
                   "for an instance seeded before records had owners).")
@click.option("--jobs", type=click.IntRange(1, 32), default=None, help="Parallel loaders (default: CPU count).")
@click.option("--seed", "random_seed", type=int, default=20261129, show_default=True,
              help="Random seed: the same seed and scale give the same rows.")
def seed_command(scale: float | None, owners_only: bool, jobs: int | None, random_seed: int) -> None:
    """Append a synthetic data set (Chinese and English) after the existing rows."""
    app = current_app._get_current_object()
    if owners_only:
        return backfill_owners(app, scale, random_seed)
    if scale is None:
        raise click.UsageError("Missing option '--scale' (or --owners-only).")
    try:
        counts = counts_for_scale(scale)
    except ScaleError as exc:
        raise click.BadParameter(str(exc), param_hint="--scale") from None
    _check_disk(app.config, scale)
    start = first_date()
    # every month of the seed's log rows exists first, and rows an older version left in
    # the default partition are moved out (a new month would otherwise not attach)
    maintained = maintain_logs(app, since=start.date())
    if maintained.changed:
        click.echo(f"logs: {maintained.summary()}.")
    click.echo("Seeding: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
    bars: list[tqdm] = []

    def progress(table: str, total: int):
        bars.append(tqdm(total=total, desc=f"{table:16}", unit="rows" if table != "indexes" else "idx",
                         unit_scale=True, position=len(bars), dynamic_ncols=True, mininterval=1))
        return bars[-1].update

    try:
        report = load(owner_conninfo(app.config), counts, key_ring(app.config["INSTANCE_DIR"]),
                      start=start, seed=random_seed, jobs=jobs, progress=progress, echo=tqdm.write)
    finally:
        for bar in bars:
            bar.close()
    record("seed", {"scale": scale, "seed": random_seed, "rows": report.counts, "first_ids": report.first_ids,
                    "seconds": {k: round(v, 1) for k, v in report.seconds.items()}})
    click.echo("\n| table / phase | rows | seconds |\n|---|---:|---:|")
    for name, seconds in report.seconds.items():
        rows = f"{report.counts[name]:,}" if name in report.counts else ""
        click.echo(f"| {name} | {rows} | {seconds:.1f} |")
    click.echo(f"Seeded {sum(report.counts.values()):,} rows in {report.seconds['total']:.0f} s "
               f"(ids from {', '.join(f'{t} {i:,}' for t, i in report.first_ids.items())}).")
    click.echo(f"Owners: {len(report.staff.owners)} staff in teams ({report.staff.created_users} users and "
               f"{report.staff.created_teams} teams created; their passwords are random and shown nowhere: "
               f"`crm user reset-password NAME` before signing in as one).")
    with psycopg.connect(owner_conninfo(app.config)) as conn:
        left = {t: n for t, n in staff.unowned(conn).items() if n}
    if left:
        click.echo("Rows without an owner (from before records had owners): "
                   + ", ".join(f"{n:,} {t}" for t, n in left.items())
                   + ". `crm seed --owners-only` gives them one (resumable).")


def backfill_owners(app, scale: float | None, random_seed: int) -> None:
    """`crm seed --owners-only`: owners for the rows that have none, in committed batches."""
    with psycopg.connect(owner_conninfo(app.config), autocommit=True) as conn:
        customers = round(1_000_000 * scale) if scale else conn.execute("SELECT count(*) FROM customers").fetchone()[0]
        team = staff.ensure(conn, customers, random_seed)
        pending = staff.unowned(conn)
        bars = {t: tqdm(total=n, desc=f"{t:16}", unit="rows", unit_scale=True, position=i, mininterval=1)
                for i, (t, n) in enumerate(pending.items())}
        try:
            done = staff.backfill(conn, team, lambda table, rows: bars[table].update(rows))
        finally:
            for bar in bars.values():
                bar.close()
    record("seed owners", {"rows": done, "staff": len(team.owners), "created_users": team.created_users})
    click.echo("Owners given: " + ", ".join(f"{n:,} {t}" for t, n in done.items())
               + f" (over {len(team.owners)} staff in teams).")
