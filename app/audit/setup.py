"""Wire the audit log into the application (create_app calls both)."""
from __future__ import annotations

from flask import Flask

from app.audit import context, events


def install_listeners(engine) -> None:
    """Who acts, set on every transaction; permission changes logged with their flush (once)."""
    context.install(engine)
    events.install()


def init_audit(app: Flask) -> None:
    """Logouts logged; the history's description filter for the templates."""
    from app.audit.history import init_history

    events.init_audit_events(app)
    init_history(app)
