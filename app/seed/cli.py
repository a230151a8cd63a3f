"""`flask --app run crm seed --scale S`: bulk-load a realistic synthetic data set."""
from __future__ import annotations

import shutil
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from app.audit.maintenance import maintain_logs
from app.audit.record import record
from app.ops.database import owner_conninfo
from app.encryption.columns import key_ring
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
@click.option("--scale", type=float, required=True,
              help="1 = 1M customers, 2M contacts, 1M leads, 2M opportunities, 10M activities, "
                   "1M tickets, 20M log rows; 0.01 = a hundredth of that.")
@click.option("--jobs", type=click.IntRange(1, 32), default=None, help="Parallel loaders (default: CPU count).")
@click.option("--seed", "random_seed", type=int, default=20261129, show_default=True,
              help="Random seed: the same seed and scale give the same rows.")
def seed_command(scale: float, jobs: int | None, random_seed: int) -> None:
    """Append a synthetic data set (Chinese and English) after the existing rows."""
    try:
        counts = counts_for_scale(scale)
    except ScaleError as exc:
        raise click.BadParameter(str(exc), param_hint="--scale") from None
    app = current_app._get_current_object()
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
