"""/health: is the app up, does the database answer, is the instance looked after? No login, no details.

200 {"status": "ok"}; 200 {"status": "degraded", "reasons": [...]} when a job failed or a backup is
overdue (app/scheduler/health.py); 503 when the database does not answer.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from app.extensions import db
from app.scheduler.health import degraded_reasons

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SET LOCAL statement_timeout = 2000"))
            conn.execute(text("SELECT 1"))
    except Exception:
        return jsonify(status="unavailable", database="unreachable"), 503
    reasons = degraded_reasons(current_app)
    if reasons:
        return jsonify(status="degraded", database="ok", reasons=reasons)
    return jsonify(status="ok", database="ok")
