"""DRF authentication with RFC 9068 JWT access tokens (RFC 6750 Bearer)."""

from __future__ import annotations

import functools
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from .. import tokens
from ..conf import m2m_settings, on_reload
from .principal import M2MPrincipal
from .validation import get_validator

_ERROR_ATTR = "_logto_m2m_auth_error"


def _quote(text: str) -> str:
    # RFC 6750 §3: error_description excludes '"' and '\'.
    return text.replace("\\", "").replace('"', "'")


@functools.lru_cache(maxsize=256)
def _error_challenge(description: str) -> str:
    """The RFC 6750 §3 challenge for a refused token; built once per description (and realm: cleared on reload)."""
    return f'Bearer realm="{m2m_settings.REALM}", error="invalid_token", error_description="{_quote(description)}"'


on_reload(_error_challenge.cache_clear)


class InvalidToken(exceptions.AuthenticationFailed):
    default_detail = "The access token is invalid."
    default_code = "invalid_token"


def view_audience(request: Request) -> str:
    """The audience a view requires: its ``audience`` attribute, else ``LOGTO_M2M["AUDIENCE"]``."""
    view = (getattr(request, "parser_context", None) or {}).get("view")
    audience = getattr(view, "audience", None) or m2m_settings.AUDIENCE
    if not audience:
        raise ImproperlyConfigured(
            f"{type(view).__name__} is protected by JWTAccessTokenAuthentication but declares no audience: "
            'set `audience = "https://your.api"` on the view or LOGTO_M2M["AUDIENCE"].'
        )
    return str(audience)


class JWTAccessTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <jwt>`` for M2M access tokens.

    Returns None for requests without a Bearer token (so other classes may
    try); raises ``AuthenticationFailed`` (401 ``invalid_token``) for a bad
    one. ``request.user`` becomes an :class:`M2MPrincipal`, ``request.auth``
    the validated claims. A valid request costs no SQL query and no HTTP call.
    """

    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[M2MPrincipal, dict[str, Any]] | None:
        header = request._request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return self._authenticate_outside_header(request)
        scheme, _, token = header.partition(" ")
        # RFC 7235 §2.1: the auth-scheme is case-insensitive.
        if scheme.lower() != self.keyword:
            return None
        token = token.strip()
        if not token or " " in token or "," in token:
            self._fail(request, "The Authorization header must be 'Bearer <token>'.")
        audience = view_audience(request)
        try:
            principal = get_validator().validate(token, audience)
        except tokens.TokenError as exc:
            setattr(request, _ERROR_ATTR, exc.description)
            raise InvalidToken(exc.description) from exc
        return principal, principal.claims

    def _authenticate_outside_header(self, request: Request) -> tuple[M2MPrincipal, dict[str, Any]] | None:
        """RFC 6750 §2.3 (query string) and §2.2 (form body): 401 unless ``ACCEPT_TOKEN_IN_*`` allows them."""
        django_request = request._request
        values: list[str] = []
        allowed = False
        if "access_token" in django_request.META.get("QUERY_STRING", ""):
            values = django_request.GET.getlist("access_token")
            allowed = m2m_settings.ACCEPT_TOKEN_IN_QUERY
        if (
            not values
            and django_request.method not in ("GET", "HEAD")
            and django_request.content_type == "application/x-www-form-urlencoded"
        ):
            values = django_request.POST.getlist("access_token")
            allowed = m2m_settings.ACCEPT_TOKEN_IN_BODY
        if not values:
            return None
        if not allowed:
            self._fail(request, "Send the access token in the Authorization header.")
        if len(values) != 1 or not values[0].strip():
            self._fail(request, "Send one access token.")
        try:
            principal = get_validator().validate(values[0].strip(), view_audience(request))
        except tokens.TokenError as exc:
            self._fail(request, exc.description, exc)
        return principal, principal.claims

    def _fail(self, request: Request, description: str, cause: Exception | None = None) -> Any:
        setattr(request, _ERROR_ATTR, description)
        raise InvalidToken(description) from cause

    def authenticate_header(self, request: Request) -> str:
        error = getattr(request, _ERROR_ATTR, None)
        if error is None:
            # RFC 6750 §3.1: no error attributes when the request had no token.
            return f'Bearer realm="{m2m_settings.REALM}"'
        return _error_challenge(error)
