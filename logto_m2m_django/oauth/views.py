"""``POST /oidc/token``, ``GET /oidc/jwks`` and the discovery documents."""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qsl

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from ..activity import record_token_request
from ..changes import UNAVAILABLE
from ..conf import SUPPORTED_ALGORITHMS, m2m_settings
from ..grant_cache import grant_cache
from ..keys import JWKS_MAX_AGE, KeyStoreError, key_store
from . import throttling
from .errors import NO_STORE, IssuerNotConfiguredError, error_body, error_response
from .server import get_core

logger = logging.getLogger("logto_m2m_django.token")

#: The parameters of a client-credentials token request; others are ignored (RFC 6749 §3.2).
KNOWN_PARAMS = ("grant_type", "scope", "resource", "organization_id", "client_id", "client_secret")


class BadTokenRequestError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


#: A "%" not followed by two hex digits: not a valid percent-encoding (RFC 3986 §2.1).
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
#: A client-credentials request has five parameters; anything far beyond that is refused.
_MAX_FORM_FIELDS = 100


def _params_from_form(request: HttpRequest) -> dict[str, list[str]]:
    """Parse the form body strictly; Django's lenient parser would replace bad bytes silently."""
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise BadTokenRequestError("invalid_request", "The request body is too large.", 413) from exc
    if len(body) > m2m_settings.MAX_TOKEN_REQUEST_BYTES:
        raise BadTokenRequestError("invalid_request", "The request body is too large.", 413)
    if _BAD_PERCENT.search(body):
        raise BadTokenRequestError("invalid_request", "The request body has a malformed percent-encoding.")
    try:
        # RFC 6749 Appendix B: form parameters are UTF-8, percent-encoded.
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError as exc:
        raise BadTokenRequestError("invalid_request", "The request body is not valid UTF-8.") from exc
    except ValueError as exc:  # more than _MAX_FORM_FIELDS fields
        raise BadTokenRequestError("invalid_request", "The request body has too many parameters.") from exc
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            # Refused even in a parameter this endpoint ignores.
            raise BadTokenRequestError("invalid_request", "The request body contains a NUL byte.")
        if key in KNOWN_PARAMS:
            params.setdefault(key, []).append(value)
    return params


def _params_from_json(body: bytes) -> dict[str, list[str]]:
    try:
        data = json.loads(body.decode("utf-8")) if body else {}
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: nesting deep enough to exhaust the parser's stack.
        raise BadTokenRequestError("invalid_request", "The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise BadTokenRequestError("invalid_request", "The JSON body must be an object.")
    params: dict[str, list[str]] = {}
    for key in KNOWN_PARAMS:
        if key not in data:
            continue
        value = data[key]
        values = value if key == "resource" and isinstance(value, list) else [value]
        if not values:
            raise BadTokenRequestError("invalid_target", "The resource list is empty.")
        if not all(isinstance(v, str) for v in values):
            raise BadTokenRequestError("invalid_request", f'The "{key}" parameter must be a string.')
        params[key] = values
    return params


def extract_params(request: HttpRequest) -> list[tuple[str, str]]:
    """The token request's parameters, checked: size, encoding, types, repetition."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        # Django's own body reader would fail on it later with a 500.
        raise BadTokenRequestError("invalid_request", "The Content-Length header is not a number.") from exc
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
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate, from a JSON "\ud800" escape
                raise BadTokenRequestError("invalid_request", f'The "{key}" parameter is not valid Unicode.') from exc
            pairs.append((key, value))
    return pairs


class _EveryAlias(set[str]):
    """``_non_atomic_requests`` that opts out of ``ATOMIC_REQUESTS`` on every database alias."""

    def __contains__(self, alias: object) -> bool:
        return True


class TokenView(APIView):
    """The token endpoint (RFC 6749 §3.2) for the client-credentials grant (§4.4).

    DRF receives the request; DOT's oauthlib core and
    :class:`~logto_m2m_django.oauth.validator.M2MOAuth2Validator` run the grant.
    """

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []
    renderer_classes = [JSONRenderer]
    # OPTIONS answers 405 like any other method but POST (no DRF metadata page).
    metadata_class = None

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        view = super().as_view(**initkwargs)
        # Never inside ATOMIC_REQUESTS, for any database: each write of this endpoint (the activity
        # row, a key created on first use) commits on its own, so that the activity row's transaction
        # alone skips the wait for the disk (activity._save) and nothing a refusal rolls back loses it.
        view._non_atomic_requests = _EveryAlias()  # type: ignore[attr-defined]
        return view

    @property
    def allowed_methods(self) -> list[str]:
        # DRF would list OPTIONS, which this view answers with 405: Allow says what works (RFC 9110 §10.2.1).
        return ["POST"]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # RFC 6749 §5.1: the answer is JSON whatever the Accept header says (never a 406).
        return super().perform_content_negotiation(request, force=True)

    def post(self, request: Request) -> HttpResponse:
        django_request = request._request
        # The address limit comes first: a limited address makes the endpoint read no body and
        # write no activity row (429s are not recorded), malformed requests included.
        # The grant cache's change notice is read in the throttle counters' round trip (shared cache).
        notice = grant_cache.shared_key()
        limited = throttling.check_request(django_request, (notice,) if notice else ())
        if limited is not None:
            return limited
        try:
            params = extract_params(django_request)
        except BadTokenRequestError as exc:
            return error_response(exc.error, exc.description, exc.status)
        django_request.m2m_params = params  # type: ignore[attr-defined]
        limited = throttling.check_credentials(django_request, params)
        if limited is not None:
            return limited
        # Before any read of clients or grants: what this request may take from the process's cache
        # (never raises: a notice that can't be read leaves the cache as it is until the next check).
        django_request.m2m_cache_generation = grant_cache.start(  # type: ignore[attr-defined]
            throttling.peeked(django_request, notice) if notice else UNAVAILABLE
        )
        try:
            _uri, _headers, body, status = get_core().create_token_response(django_request)
        except DatabaseError:
            logger.exception("Token request failed: database unavailable")
            return error_response("temporarily_unavailable", "The service is temporarily unavailable.", 503)
        except (KeyStoreError, IssuerNotConfiguredError):
            # A server misconfiguration (no issuer; SECRET_KEY changed without SECRET_KEY_FALLBACKS):
            # logged for the operator, a plain JSON error for the client.
            logger.exception("Token request failed: server misconfigured")
            return error_response("server_error", "The server could not sign a token.", 500)
        if status >= 400:
            body = error_body(body)
        response = HttpResponse(body, status=status, content_type="application/json")
        for name, value in NO_STORE.items():
            response[name] = value
        if status == 401:
            throttling.record_failure(django_request)
            # RFC 6749 §5.2: a client that used HTTP authentication gets a challenge of
            # the same scheme; oauthlib's Bearer challenge does not apply here.
            via_basic = bool(django_request.META.get("HTTP_AUTHORIZATION"))
            if via_basic:
                response["WWW-Authenticate"] = f'Basic realm="{m2m_settings.REALM}"'
        return response

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return error_response("invalid_request", "The token endpoint accepts POST only.", 405, {"Allow": "POST"})

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method == "POST":
            # One TokenActivity row per token request (LOGTO_M2M["TOKEN_ACTIVITY_LOG"]); never raises.
            record_token_request(request._request, response, client_ip=throttling.client_ip(request._request))
        return response


def _issuer() -> str:
    issuer = m2m_settings.ISSUER
    if not issuer:
        raise IssuerNotConfiguredError()
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
    response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
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
    try:
        metadata = server_metadata()
    except IssuerNotConfiguredError:
        logger.exception("Discovery unavailable: server misconfigured")
        return JsonResponse({"error": "server_error"}, status=500)
    response = JsonResponse(metadata)
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


token_view = TokenView.as_view()
jwks_view = csrf_exempt(jwks_view)
metadata_view = csrf_exempt(metadata_view)
