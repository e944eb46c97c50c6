"""``POST /oidc/token``, ``GET /oidc/jwks`` and the discovery documents."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from ..conf import SUPPORTED_ALGORITHMS, m2m_settings
from ..keys import key_store
from .errors import NO_STORE, error_response
from .server import get_core

logger = logging.getLogger("logto_m2m_django.token")

#: The parameters of a client-credentials token request; others are ignored (RFC 6749 §3.2).
KNOWN_PARAMS = ("grant_type", "scope", "resource", "client_id", "client_secret")


class BadTokenRequestError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def _params_from_form(request: HttpRequest) -> dict[str, list[str]]:
    try:
        return {key: request.POST.getlist(key) for key in KNOWN_PARAMS if key in request.POST}
    except (RequestDataTooBig, TooManyFieldsSent) as exc:
        raise BadTokenRequestError("invalid_request", "The request body is too large.", 413) from exc


def _params_from_json(body: bytes) -> dict[str, list[str]]:
    try:
        data = json.loads(body.decode("utf-8")) if body else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadTokenRequestError("invalid_request", "The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise BadTokenRequestError("invalid_request", "The JSON body must be an object.")
    params: dict[str, list[str]] = {}
    for key in KNOWN_PARAMS:
        if key not in data:
            continue
        value = data[key]
        values = value if key == "resource" and isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise BadTokenRequestError("invalid_request", f'The "{key}" parameter must be a string.')
        params[key] = values
    return params


def extract_params(request: HttpRequest) -> list[tuple[str, str]]:
    """The token request's parameters, checked: size, encoding, types, repetition."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > m2m_settings.MAX_TOKEN_REQUEST_BYTES:
        raise BadTokenRequestError("invalid_request", "The request body is too large.", 413)
    if request.META.get("QUERY_STRING"):
        # RFC 6749 §3.2: parameters go in the body; credentials in the URL would leak into logs.
        raise BadTokenRequestError("invalid_request", "Send the parameters in the request body, not the URL.")
    content_type = (request.content_type or "").lower()
    if content_type in ("application/x-www-form-urlencoded", ""):
        params = _params_from_form(request)
    elif content_type == "application/json":
        body = request.body
        if len(body) > m2m_settings.MAX_TOKEN_REQUEST_BYTES:
            raise BadTokenRequestError("invalid_request", "The request body is too large.", 413)
        params = _params_from_json(body)
    else:
        raise BadTokenRequestError(
            "invalid_request", "The body must be application/x-www-form-urlencoded (or application/json)."
        )
    pairs: list[tuple[str, str]] = []
    for key, values in params.items():
        if len(values) > 1:
            # RFC 6749 §3.2: parameters MUST NOT be included more than once.
            if key == "resource":
                raise BadTokenRequestError("invalid_target", "Request one resource at a time.")
            raise BadTokenRequestError("invalid_request", f'The "{key}" parameter is repeated.')
        for value in values:
            if "\x00" in value:
                raise BadTokenRequestError("invalid_request", f'The "{key}" parameter contains a NUL byte.')
            pairs.append((key, value))
    return pairs


class TokenView(APIView):
    """The token endpoint (RFC 6749 §3.2) for the client-credentials grant (§4.4).

    DRF receives the request; DOT's oauthlib core and
    :class:`~logto_m2m_django.oauth.validator.M2MOAuth2Validator` run the grant.
    """

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []
    renderer_classes = [JSONRenderer]

    def post(self, request: Request) -> HttpResponse:
        django_request = request._request
        try:
            django_request.m2m_params = extract_params(django_request)  # type: ignore[attr-defined]
        except BadTokenRequestError as exc:
            return error_response(exc.error, exc.description, exc.status)
        try:
            _uri, _headers, body, status = get_core().create_token_response(django_request)
        except DatabaseError:
            logger.exception("Token request failed: database unavailable")
            return error_response("temporarily_unavailable", "The service is temporarily unavailable.", 503)
        response = HttpResponse(body, status=status, content_type="application/json")
        for name, value in NO_STORE.items():
            response[name] = value
        if status == 401:
            # RFC 6749 §5.2: a client that used HTTP authentication gets a challenge of
            # the same scheme; oauthlib's Bearer challenge does not apply here.
            via_basic = bool(django_request.META.get("HTTP_AUTHORIZATION"))
            if via_basic:
                response["WWW-Authenticate"] = f'Basic realm="{m2m_settings.REALM}"'
        return response

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return error_response("invalid_request", "The token endpoint accepts POST only.", 405, {"Allow": "POST"})


def _issuer() -> str:
    issuer = m2m_settings.ISSUER
    if not issuer:
        raise RuntimeError("LOGTO_M2M['ISSUER'] is not set (system check logto_m2m.E001).")
    return issuer


def jwks_view(request: HttpRequest) -> HttpResponse:
    """RFC 7517 §5 JWK Set with the Current, Next and Previous public keys."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    try:
        jwks = key_store.jwks()
    except DatabaseError:
        logger.exception("JWKS unavailable: database unavailable")
        return JsonResponse({"error": "temporarily_unavailable"}, status=503)
    response = JsonResponse(jwks)
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def server_metadata() -> dict[str, Any]:
    """Authorization server metadata (RFC 8414 §2; OpenID Connect Discovery 1.0 §3)."""
    issuer = _issuer()
    accepted = [a for a in m2m_settings.ACCEPTED_ALGORITHMS if a in SUPPORTED_ALGORITHMS]
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": accepted,
        "access_token_signing_alg_values_supported": accepted,
        "scopes_supported": [],
    }


def metadata_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    response = JsonResponse(server_metadata())
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


token_view = TokenView.as_view()
jwks_view = csrf_exempt(jwks_view)
metadata_view = csrf_exempt(metadata_view)
