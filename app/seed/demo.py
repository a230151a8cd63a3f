"""The demo data of a new instance: the seed's data set at a small scale, then the reports.

Loaded into an empty database at the first start (app.ops.bootstrap): the same
generators as `crm seed` (Chinese and English names, dates over five years,
every stage, status, priority and activity type, encrypted amounts), written
in one transaction on the owner role's connection (row-level security limits the app's
role to the acting user's records), and every row is audited as any other insert. The rows
belong to three teams of sales staff made with them. A few log rows of its own mark the demo
in the audit log.
"""
from __future__ import annotations

import datetime as dt
import random

from flask import current_app
from sqlalchemy import insert, select

from app.audit.context import bind
from app.encryption.columns import key_ring
from app.extensions import db
from app.models import Log, User
from app.ops.database import owner_engine
from app.reports.generators import generate
from app.seed.loader import load_in_place
from app.seed.plan import counts_for_scale
from app.seed.staff import create as create_staff

DEMO_SCALE = 0.0001  # 100 customers, 200 contacts and opportunities, 1,000 activities
MARKERS = 20  # 'demo data' log rows
DAYS = 365
HISTORY = dt.timedelta(days=DAYS + 1)  # how far back the marker rows are dated
DEMO_TEAMS, DEMO_STAFF = 3, 12  # a manager and three reps per team own the demo rows (docs/manual.md)


def demo_counts() -> dict[str, int]:
    """Rows per table of the demo (no generated log rows: the audit triggers write the real ones)."""
    return {table: n for table, n in counts_for_scale(DEMO_SCALE).items() if table != "logs"}


def load_demo_data(seed: int = 20261129) -> dict[str, int]:
    """Insert the demo rows; returns counts by table. Caller checks emptiness."""
    session = db.session
    counts = demo_counts()
    # as the owner role: row-level security lets the app's role write only its own records, and the
    # demo's belong to its sales staff (COPY, which the loader uses, is refused under it too)
    with owner_engine(current_app.config) as engine, engine.begin() as connection:
        bind(connection)  # the audit triggers name who loads it (`crm bootstrap`), as for any write
        raw = connection.connection.driver_connection
        staff = create_staff(raw, DEMO_TEAMS, DEMO_STAFF, seed)
        load_in_place(raw, counts, key_ring(), seed=seed, staff=staff)
    rng = random.Random(seed)
    now = dt.datetime.utcnow().replace(microsecond=0)
    admin_id = session.scalar(select(User.user_id).where(User.username == "admin"))
    session.execute(insert(Log), [
        {"user_id": admin_id, "action": "demo data", "description": f"Loaded demo row batch {i}",
         "created_at": now - dt.timedelta(days=rng.uniform(0, DAYS), seconds=rng.randint(0, 86400))}
        for i in range(MARKERS)])
    session.commit()
    # snapshots come from the real generators over the rows just committed, as `crm reports generate` writes them
    reports = generate()
    return {**{("tickets" if t == "service_tickets" else t): n for t, n in counts.items()},
            "reports": len(reports), "logs": MARKERS, "teams": DEMO_TEAMS, "users": DEMO_STAFF}
