"""The oauthlib server behind the token endpoint, built once per process."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauthlib.common import Request
from oauthlib.oauth2 import BackendApplicationServer

from .. import tokens
from ..conf import m2m_settings, on_reload
from ..keys import key_store
from .errors import IssuerNotConfiguredError
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
    hook = m2m_settings.EXTRA_CLAIMS
    if hook is not None:
        extra = hook(dict(claims), {"client_id": request.client.client_id, "resource": grant.indicator})
        # The hook may add claims but not replace the ones RFC 9068 defines.
        claims.update({k: v for k, v in (extra or {}).items() if k not in tokens.REQUIRED_CLAIMS and k != "scope"})
    return tokens.sign(claims, key_store.signing_material())


class M2MOAuthLibCore(OAuthLibCore):
    """DOT's Django ↔ oauthlib bridge, fed with parameters the view has already checked."""

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
