"""A stored amount that fails to decrypt is an integrity fault: say so plainly, never show a wrong number."""
from __future__ import annotations

import logging

from flask import Flask
from flask_babel import gettext as _

from app.encryption.keyring import DecryptionError
from app.web.errors import error_response
from app.extensions import db

log = logging.getLogger(__name__)


def init_decryption_errors(app: Flask) -> None:
    @app.errorhandler(DecryptionError)
    def decryption_error(exc: DecryptionError):
        db.session.rollback()
        log.error("decryption failed: %s", exc)  # names the row, never a value or a key
        return error_response(500, _(
            "A stored amount failed its integrity check and is not shown: %(detail)s. "
            "Restore the row from a backup, or ask an administrator to check the key ring.", detail=str(exc)))
