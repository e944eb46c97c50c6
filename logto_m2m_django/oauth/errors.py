"""OAuth 2.0 error responses of the token endpoint (RFC 6749 §5.2, RFC 8707 §2)."""

from __future__ import annotations

import json

from django.http import HttpResponse
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors

#: Headers of every token endpoint answer (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class InvalidTargetError(oauthlib_errors.OAuth2Error):
    """RFC 8707 §2: the requested resource is invalid, unknown or malformed."""

    error = "invalid_target"
    status_code = 400


class IssuerNotConfiguredError(RuntimeError):
    """``LOGTO_M2M["ISSUER"]`` is not set (system check logto_m2m.E001)."""

    def __init__(self) -> None:
        super().__init__("LOGTO_M2M['ISSUER'] is not set (system check logto_m2m.E001).")


class ExpiredSecretError(oauthlib_errors.InvalidRequestError):
    description = "client secret has expired"


#: Descriptions for the errors oauthlib raises without one, so that every
#: error body carries ``error_description`` (RFC 6749 §5.2).
DEFAULT_DESCRIPTIONS = {
    "invalid_client": "Client authentication failed.",
    "invalid_request": "The token request is malformed.",
    "unauthorized_client": "This client may not use the client_credentials grant.",
    "unsupported_grant_type": 'The grant type is not supported; use "client_credentials".',
    "invalid_scope": "The requested scope is invalid.",
    "invalid_target": "The requested resource is invalid.",
    "server_error": "The server could not issue a token.",
    "temporarily_unavailable": "The service is temporarily unavailable.",
}


def error_body(body: str) -> str:
    """oauthlib's error JSON reduced to ``{"error", "error_description"}``, a description always present."""
    try:
        data = json.loads(body)
        error = str(data["error"])
    except (TypeError, ValueError, KeyError):
        error, data = "server_error", {}
    description = data.get("error_description") or DEFAULT_DESCRIPTIONS.get(error, "The token request failed.")
    return json.dumps({"error": error, "error_description": str(description)})


def error_response(
    error: str, description: str, status: int = 400, headers: dict[str, str] | None = None
) -> HttpResponse:
    """A JSON error body ``{"error", "error_description"}`` with no-store headers."""
    body = json.dumps({"error": error, "error_description": description})
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in {**NO_STORE, **(headers or {})}.items():
        response[name] = value
    return response
