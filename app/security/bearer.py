"""How the API refuses a credential (RFC 6750) or a permission, in the one error shape.

A missing, malformed, expired or revoked credential is a 401 `{message, status}` with
`WWW-Authenticate: Bearer realm="CRM"` (plus `error="invalid_token"` when a credential was
sent but is not accepted); a role without the permission is a 403 in the same shape.
Flask-JWT-Extended's own answers (a 422 for "Not enough segments", `{msg}` bodies) are replaced
by its loaders (`install_jwt_answers`); an API key refused raises `CredentialRefused`; FAB's own
401/403 bodies (`{"message": "Forbidden"}`) are put in the shape by `shape_refusals`, an
after-request hook (app/web/hooks.py), so no API class is left out.
"""
from __future__ import annotations

from flask import Response, request
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import JWTManager
from werkzeug.exceptions import Unauthorized

from app.web.errors import error_response
from app.web.requests import is_api_request

REALM = "CRM"
MISSING = _l('This operation needs a credential: send an API key or an access token as '
             '"Authorization: Bearer ...".')
INVALID = _l("The credential is not valid.")
EXPIRED = _l("The credential has expired.")
REVOKED = _l("The credential has been revoked.")
DISABLED = _l("The credential's user is disabled.")
NOT_AUTHORIZED = _l("Not signed in, or the credentials are not valid.")
FORBIDDEN = _l("Your role does not have the permission for this operation.")


def challenge(description: str | None = None) -> dict[str, str]:
    """The WWW-Authenticate header: no error code when no credential was sent (RFC 6750 3.1)."""
    value = f'Bearer realm="{REALM}"'
    if description is not None:
        value += f', error="invalid_token", error_description="{description}"'
    return {"WWW-Authenticate": value}


def unauthorized(message, description: str | None = None) -> Response:
    return error_response(401, str(message), headers=challenge(description))


class CredentialRefused(Unauthorized):
    """Raised where a sent credential is refused; answered by the error handler (app/web/errors.py)."""

    def __init__(self, message, description: str) -> None:
        super().__init__(description=str(message))
        self.challenge = challenge(description)

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), *self.challenge.items()]


def sent_bearer() -> bool:
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


def install_jwt_answers(jwt_manager: JWTManager) -> None:
    """Every refusal of Flask-JWT-Extended as a 401 in the one shape (its default for a bad token is 422)."""
    jwt_manager.unauthorized_loader(
        lambda _reason: unauthorized(INVALID, "malformed") if sent_bearer() else unauthorized(MISSING))
    jwt_manager.invalid_token_loader(lambda _reason: unauthorized(INVALID, "malformed"))
    jwt_manager.expired_token_loader(lambda _header, _payload: unauthorized(EXPIRED, "expired"))
    jwt_manager.revoked_token_loader(lambda _header, _payload: unauthorized(REVOKED, "revoked"))
    jwt_manager.user_lookup_error_loader(lambda _header, _payload: unauthorized(REVOKED, "revoked"))
    jwt_manager.token_verification_failed_loader(lambda _header, _payload: unauthorized(INVALID, "malformed"))
    jwt_manager.needs_fresh_token_loader(lambda _header, _payload: unauthorized(INVALID, "not fresh"))


def shape_refusals(response: Response) -> Response:
    """An API 401/403 answered by FAB's own helpers ({"message": "Forbidden"}) in the one error shape."""
    if response.status_code not in (401, 403) or not is_api_request():
        return response
    body = response.get_json(silent=True)
    if isinstance(body, dict) and body.get("status") == response.status_code:
        if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
            response.headers.update(challenge())
        return response
    if response.status_code == 403:
        return error_response(403, str(FORBIDDEN))
    return unauthorized(NOT_AUTHORIZED, "refused" if sent_bearer() else None)
