"""The demo data of a new instance: the seed's data set at a small scale, then the reports.

Loaded into an empty database at the first start (app.ops.bootstrap): the same
generators as `crm seed` (Chinese and English names, dates over five years,
every stage, status, priority and activity type, encrypted amounts), written
through the app's own connection in one transaction, so every row is audited as
any other insert. A few log rows of its own mark the demo in the audit log.
"""
from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import insert, select

from app.audit.context import bind
from app.encryption.columns import key_ring
from app.extensions import db
from app.models import Log, User
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
    connection = session.connection()
    bind(connection)  # the audit triggers name who loads it (`crm bootstrap`), as for any write
    counts = demo_counts()
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
