"""The REST API's OpenAPI document as the app derives it, without a database."""
from __future__ import annotations

import json
import tempfile

from config import TestConfig

NOWHERE = "postgresql+psycopg://nobody:unused@127.0.0.1:9/none"  # never connected to


def offline_document() -> dict:
    """The document /api/v1/_openapi serves, from an app that never opens a connection."""
    from app import create_app
    from app.crud.openapi import document
    from views.api import CrmRestApi

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(TestConfig, DATABASE_URL=NOWHERE, MIGRATION_DATABASE_URL=NOWHERE,
                         INSTANCE_DIR=instance, SECRET_KEY="offline-document-secret-key-32-bytes!")
        with app.test_request_context():
            apis = [view for view in app.appbuilder.baseviews if isinstance(view, CrmRestApi)]
            built = document(apis, app.appbuilder.app_name)
    return json.loads(json.dumps(built))  # as served: JSON types only
