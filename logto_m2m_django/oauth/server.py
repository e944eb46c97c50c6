"""The oauthlib server behind the token endpoint, built once per process."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauthlib.common import Request
from oauthlib.oauth2 import BackendApplicationServer
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors

from .. import tokens
from ..claims import hook as claims_hook
from ..conf import m2m_settings, on_reload
from ..keys import key_store
from ._context import current_request as _django_request
from .errors import IssuerNotConfiguredError
from .organizations import organization_claims
from .validator import M2MOAuth2Validator, now, token_lifetime


def generate_access_token(request: Request) -> str:
    """oauthlib's token generator: an RFC 9068 JWT for the grant the validator resolved."""
    grant = request.m2m_grant
    issuer = m2m_settings.ISSUER
    if not issuer:
        raise IssuerNotConfiguredError()
    claims = tokens.build_claims(
        issuer=issuer,
        client_id=request.client.client_id,
        audience=grant.indicator,
        scopes=request.scopes,
        lifetime=grant.access_token_ttl,
        now=now(),
    )
    claims.update(organization_claims(grant))
    if claims_hook.is_configured():
        _add_custom_claims(claims, request)
    return tokens.sign(claims, key_store.signing_material())


def _add_custom_claims(claims: dict[str, Any], request: Request) -> None:
    """The hook's claims (never replacing the token's own); its domain errors as OAuth errors."""
    try:
        extra, note = claims_hook.claims_for_token(claims, request.client.application)
    except claims_hook.AccessDenied as exc:
        # Logto answers a denial with access_denied, status 400 (RFC 6749 §5.2).
        raise oauthlib_errors.AccessDeniedError(
            description=exc.message or "Access denied by the custom claims hook."
        ) from exc
    except claims_hook.CustomClaimsError as exc:
        _note(exc.reason and f"custom_claims:{exc.reason}")
        # Logto's blockIssuanceOnError: invalid_request, "Custom claims script error: ...".
        raise oauthlib_errors.InvalidRequestError(description=f"Custom claims script error: {exc.description}") from exc
    claims.update(extra)
    _note(note)


def _note(note: str) -> None:
    """Tell the activity log (through the Django request) that the hook did not run cleanly."""
    django_request = _django_request.get()
    if note and django_request is not None:
        django_request.m2m_custom_claims_error = note  # type: ignore[attr-defined]


class M2MOAuthLibCore(OAuthLibCore):
    """DOT's Django ↔ oauthlib bridge, fed with parameters the view has already checked."""

    def create_token_response(self, request: HttpRequest) -> Any:
        token = _django_request.set(request)
        try:
            return super().create_token_response(request)
        finally:
            _django_request.reset(token)

    def extract_body(self, request: HttpRequest) -> list[tuple[str, str]]:
        return request.m2m_params  # type: ignore[attr-defined,no-any-return]

    def extract_headers(self, request: HttpRequest) -> dict[str, Any]:
        # Only what the client-credentials grant reads; copying the whole of
        # request.META for every token request is wasted work.
        headers: dict[str, Any] = {"Content-Type": "application/x-www-form-urlencoded"}
        auth = request.META.get("HTTP_AUTHORIZATION")
        if auth is not None:
            headers["Authorization"] = auth
        return headers


_core: M2MOAuthLibCore | None = None


def get_core() -> M2MOAuthLibCore:
    global _core
    if _core is None:
        server = BackendApplicationServer(
            M2MOAuth2Validator(), token_generator=generate_access_token, token_expires_in=token_lifetime
        )
        _core = M2MOAuthLibCore(server)
    return _core


@on_reload
def _reset() -> None:
    global _core
    _core = None
