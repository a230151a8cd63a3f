"""Report snapshots: older shapes upgraded, money figures sealed under the data key ring.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

* `pipeline_by_stage` rows in the demo loader's older shape (`{"stages": {stage: count}}`,
  counts only) become the documented shape, with the values that were never recorded
  as null (app/reports/schemas/pipeline_by_stage.json allows that).
* Every money figure still stored as a plain number is sealed in place, as the ORM
  seals new snapshots (app/reports/sealing.py), so no plaintext sum is left in the
  table. A row of any other shape is left as it is: the dashboard skips it with a note.
* The audit trail copied every snapshot with its plain money figures: in the log rows
  of `reports` those figures become "[redacted]" (counts and everything else stay).
  The one deliberate exception to the append-only log (migration 0006): the owner
  lifts the guard for this UPDATE only. Not undone on downgrade.

No audit rows and no updated_at bump: this is not a user's edit (triggers off, as in 0003).
Downgrade opens the figures again; the shape upgrade is kept (the old shape drew nothing).
"""
import json

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BATCH = 500
# as they were when this migration was written
STAGES = ("initial", "qualification", "proposal", "negotiation", "won", "lost")
CLOSED = ("won", "lost")


def upgraded(report_type: str, data):
    """The documented shape of a snapshot in an older one; anything else unchanged."""
    if report_type != "pipeline_by_stage" or not isinstance(data, dict):
        return data
    counts = data.get("stages")
    if not isinstance(counts, dict) or not set(counts) <= set(STAGES) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts.values()):
        return data
    return {"title": "Pipeline by stage", "duration_ms": 0,
            "stages": [{"stage": s, "count": counts.get(s, 0), "value": None} for s in STAGES],
            "open_count": sum(n for s, n in counts.items() if s not in CLOSED), "open_value": None}


def _rewrite(change) -> None:
    conn = op.get_bind()
    op.execute("ALTER TABLE reports DISABLE TRIGGER USER")
    update = sa.text("UPDATE reports SET data = CAST(:data AS jsonb) WHERE report_id = :pk")
    last = 0
    while True:
        rows = conn.execute(sa.text("SELECT report_id, report_type, data FROM reports WHERE report_id > :last "
                                    "ORDER BY report_id LIMIT :n"), {"last": last, "n": BATCH}).fetchall()
        if not rows:
            break
        changed = []
        for pk, report_type, data in rows:
            new = change(pk, report_type, data)
            if new != data:
                changed.append({"pk": pk, "data": json.dumps(new, ensure_ascii=False)})
        if changed:
            conn.execute(update, changed)
        last = rows[-1][0]
    op.execute("ALTER TABLE reports ENABLE TRIGGER USER")


def _redact_audit_trail() -> None:
    from app.reports.sealing import redacted

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT log_id, created_at, description FROM logs WHERE table_name = 'reports' "
                                "AND description IS NOT NULL")).fetchall()
    changed = []
    for log_id, created_at, description in rows:
        try:
            body = json.loads(description)
        except ValueError:
            continue
        new = redacted(body)
        if new != body:
            changed.append({"id": log_id, "at": created_at, "text": json.dumps(new, ensure_ascii=False)})
    if not changed:
        return
    # logs is append-only for every role, its owner included (0006): lifted for this UPDATE alone
    op.execute("GRANT UPDATE ON logs TO CURRENT_USER")
    op.execute("ALTER TABLE logs DISABLE TRIGGER logs_append_only")
    conn.execute(sa.text("UPDATE logs SET description = :text WHERE log_id = :id AND created_at = :at"), changed)
    op.execute("ALTER TABLE logs ENABLE TRIGGER logs_append_only")
    op.execute("REVOKE UPDATE ON logs FROM CURRENT_USER")


def upgrade():
    from app.encryption.columns import key_ring
    from app.reports.sealing import seal

    ring = key_ring(current_app.config["INSTANCE_DIR"])
    _rewrite(lambda pk, report_type, data: seal(upgraded(report_type, data), pk, ring))
    _redact_audit_trail()


def downgrade():
    from app.encryption.columns import key_ring
    from app.reports.sealing import open_figures

    ring = key_ring(current_app.config["INSTANCE_DIR"])
    _rewrite(lambda pk, _report_type, data: open_figures(data, pk, ring))
