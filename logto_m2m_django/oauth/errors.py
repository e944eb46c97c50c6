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


class ExpiredSecretError(oauthlib_errors.InvalidRequestError):
    description = "client secret has expired"


def error_response(
    error: str, description: str, status: int = 400, headers: dict[str, str] | None = None
) -> HttpResponse:
    """A JSON error body ``{"error", "error_description"}`` with no-store headers."""
    body = json.dumps({"error": error, "error_description": description})
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in {**NO_STORE, **(headers or {})}.items():
        response[name] = value
    return response
