"""The CRM back office application factory."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask
from flask_appbuilder import AppBuilder
from werkzeug.middleware.proxy_fix import ProxyFix

from app.web.csrf import init_csrf
from app.ops.database import resolve_database_url
from app.encryption.errors import init_decryption_errors
from app.web.errors import init_error_pages
from app.extensions import db, migrate
from app.web.hooks import register_request_hooks
from app.web.request_guard import init_request_guard
from app.crud.rison_validation import init_rison_validation
from app.ops.instance import ensure_dir, read_or_create_secret
from app.web.headers import init_security_headers
from app.web.assets import init_assets
from app.web.compression import init_compression
from app.web.templating import init_templating
from app.security.sessions import init_sessions
from config import BASE_DIR, Config, from_environment

log = logging.getLogger(__name__)


def install_listeners(engine) -> None:
    """Every ORM and database event listener, one call per concern (each installs once).

    create_app calls it; code that writes models without create_app must call it too.
    """
    from app.audit.setup import install_listeners as install_audit
    from app.encryption import columns as encryption
    from app.models import Model, Report, listeners as model_listeners
    from app.reports import sealing
    from app.web import availability

    model_listeners.install()  # blank text stored as NULL, permissions named
    encryption.install(Model)  # amounts sealed before every write, opened on load
    sealing.install(Report)  # snapshots' money figures likewise, after a shape check
    install_audit(engine)  # who acts, bound to every transaction; permission changes logged
    availability.install(engine)  # a lost connection marks the request (503)


def create_app(config: type = Config, **overrides: Any) -> Flask:
    """Build the app: config from an object, then the environment, then overrides."""
    app = Flask(__name__, template_folder="templates", static_folder="static",
                static_url_path="/static/crm")
    app.config.from_object(config)
    app.config.update(from_environment())
    app.config.update(overrides)
    instance = ensure_dir(Path(app.config["INSTANCE_DIR"]))
    app.instance_path = str(instance)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = read_or_create_secret(instance, "secret-key")[0]
    app.config["SQLALCHEMY_DATABASE_URI"] = resolve_database_url(app.config)

    db.init_app(app)
    init_templating(app)  # before any template is loaded
    init_security_headers(app)
    init_csrf(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), compare_type=True)
    with app.app_context():
        from app.audit.setup import init_audit
        from app.web.availability import init_availability
        from views.admin.security_screens import SecurityManagerWithScreens
        from views.pages.home import HomeView

        install_listeners(db.engine)
        init_audit(app)
        init_availability(app)
        appbuilder = AppBuilder(base_template="crm/base.html", indexview=HomeView, update_perms=False,
                                security_manager_class=SecurityManagerWithScreens)
        appbuilder.init_app(app, db.session)
        from views import register_views

        register_views(appbuilder)
        from app.fields.refresh import init_schema_watch
        from views.tables.rederive import rederive_app

        init_schema_watch(app, rederive_app)  # custom fields: screens derived again when the schema changes
        from app.security.amounts import init_amount_screens

        init_amount_screens(app, appbuilder)
        from app.i18n import init_i18n

        init_i18n(app)
        from app.web.navbar import init_navbar

        init_navbar(app)
        from app.lists.rows import init_list_rows

        init_list_rows(app)
    init_assets(app)  # after AppBuilder: fingerprints FAB's static folder too
    init_compression(app)
    init_request_guard(app)
    init_rison_validation()
    init_sessions(app)
    init_decryption_errors(app)
    init_error_pages(app)
    register_request_hooks(app)  # last: places the extensions' hooks, registered above, among ours
    if app.config.get("PROXY_HOPS"):  # the client's address and scheme as the trusted proxies saw them
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    from app.ops.cli import crm
    from app.web.health import bp as health_bp

    app.register_blueprint(health_bp)
    app.cli.add_command(crm)
    return app
