"""A stored amount that fails to decrypt is an integrity fault: say so plainly, never show a wrong number."""
from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template_string, request

from app.encryption.keyring import DecryptionError
from app.extensions import db

log = logging.getLogger(__name__)

MESSAGE = ("A stored amount failed its integrity check and is not shown: {detail}. "
           "Restore the row from a backup, or ask an administrator to check the key ring.")


def init_decryption_errors(app: Flask) -> None:
    @app.errorhandler(DecryptionError)
    def decryption_error(exc: DecryptionError):
        db.session.rollback()
        log.error("decryption failed: %s", exc)  # names the row, never a value or a key
        message = MESSAGE.format(detail=exc)
        if request.path.startswith("/api/"):
            return jsonify(message=message), 500
        page = render_template_string(
            "{% extends appbuilder.base_template %}{% block content %}"
            "<div class='alert alert-danger'>{{ message }}</div>{% endblock %}",
            message=message, appbuilder=current_app.appbuilder)
        return page, 500
