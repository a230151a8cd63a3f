"""Wire the audit log into the application (one call from the factory)."""
from __future__ import annotations

from flask import Flask

from app.audit.context import init_audit_context
from app.audit.events import init_audit_events


def init_audit(app: Flask, engine) -> None:
    init_audit_context(engine)
    init_audit_events(app)
    from app.audit.history import init_history

    init_history(app)
