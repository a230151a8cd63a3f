"""Start-up tasks: sync roles and permissions, make sure the admin exists, demo data."""
from __future__ import annotations

import logging
import secrets
from pathlib import Path

import click
from flask import Flask
from flask_appbuilder.security.manager import BaseSecurityManager
from sqlalchemy import func, select

from app.encryption.columns import key_ring
from app.extensions import db
from app.ops.database import owner_engine
from app.ops.instance import read_or_create_secret
from app.models import Customer, User
from app.security.passwords import password_problems

log = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"


def sync_security(app: Flask) -> None:
    """Built-in and default roles, a permission for every screen; Admin gets them all."""
    sm = app.appbuilder.sm
    fab_log = logging.getLogger("flask_appbuilder.security.manager")
    level = fab_log.level
    fab_log.setLevel(logging.ERROR)  # FAB warns "no user yet, use flask fab": ensure_admin follows
    try:
        BaseSecurityManager.create_db(sm)  # Admin and Public roles (FAB_CREATE_DB stays off)
    finally:
        fab_log.setLevel(level)
    app.appbuilder.add_permissions(update_perms=True)
    from app.security.default_roles import sync_default_roles

    sync_default_roles(app.appbuilder)
    from app.security.sessions import purge_expired

    purge_expired()


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def ensure_admin(app: Flask, echo=print) -> User:
    """The `admin` account exists; its first password comes from the env or is generated."""
    existing = db.session.scalar(select(User).where(User.username == ADMIN_USERNAME))
    if existing is not None:
        return existing
    instance = Path(app.config["INSTANCE_DIR"])
    password = app.config.get("ADMIN_PASSWORD")
    problems = password_problems(password, ADMIN_USERNAME) if password else []
    if problems:  # the password policy holds for the first admin's too
        raise click.ClickException("CRM_ADMIN_PASSWORD is refused: " + " ".join(problems))
    if not password:
        password, created = read_or_create_secret(instance, "admin-password", generate_password)
        if created:
            echo(f"Admin account: username 'admin', password written to {instance / 'admin-password'}:")
            echo(f"    {password}")
    role = app.appbuilder.sm.find_role(app.config["AUTH_ROLE_ADMIN"])
    user = app.appbuilder.sm.add_user(ADMIN_USERNAME, "Admin", "User", "admin@example.com", role,
                                      password=password)
    if not user:
        raise RuntimeError("could not create the admin account")
    return user


def database_is_empty(app: Flask) -> bool:
    """No customer at all: asked as the owner role, which sees every row (the app's role, without a user, none)."""
    with owner_engine(app.config) as engine, engine.connect() as conn:
        return not conn.scalar(select(func.count()).select_from(select(Customer.customer_id).limit(1).subquery()))


def bootstrap(app: Flask, echo=print) -> None:
    key_ring(app.config["INSTANCE_DIR"])  # generated at first start, before any amount is written
    from app.audit.maintenance import maintain_logs
    from app.audit.partitions import utc_today
    from app.fields.upkeep import sync_fields
    from app.seed.demo import HISTORY, load_demo_data

    demo = app.config.get("DEMO_DATA") and database_is_empty(app)
    db.session.rollback()  # end the read: maintenance (another connection) may alter this table's triggers
    # logs partitions ahead, retention, audit triggers on new tables; and the months of the
    # demo's back-dated log rows, which would otherwise sit in the default partition
    maintain_logs(app, since=utc_today() - HISTORY if demo else None)
    sync_security(app)
    ensure_admin(app, echo)
    for note in sync_fields(app.config):  # columns a DBA added by hand, indexes left half-built
        echo(f"Custom fields: {note}")
    if demo:
        counts = load_demo_data()
        echo("Demo data loaded: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
