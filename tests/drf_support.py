"""Views, URLs and token builders for the DRF tests (test_drf_*.py).

Used with ``@pytest.mark.urls("tests.drf_support")``. Tokens are built here,
not requested from the token endpoint, so that each test controls every
header and claim. They are signed with the key store's Current key unless a
test passes its own key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from django.urls import include, path
from jwt.algorithms import get_default_algorithms
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from logto_m2m_django.drf import HasScope, JWTAccessTokenAuthentication, RequiredScopes
from logto_m2m_django.keys import key_store
from logto_m2m_django.tokens import SigningMaterial

ISSUER = "https://auth.example.com/oidc"  # tests/settings.py
AUDIENCE = "https://shopping.api"
CLIENT_ID = "order-stats-app"
READ = "read:products"
WRITE = "write:products"

#: Pass as a claim or header value to leave it out.
OMIT: Any = object()


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid RFC 9068 claims for :data:`AUDIENCE`, with ``overrides`` applied."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": CLIENT_ID,
        "client_id": CLIENT_ID,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "jti": f"jti-{time.monotonic_ns()}",
        "scope": READ,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not OMIT}


def signed(
    payload: dict[str, Any] | None = None,
    *,
    material: SigningMaterial | None = None,
    algorithm: str | None = None,
    **headers: Any,
) -> str:
    """A JWS of ``payload`` (default :func:`claims`) with ``typ: at+jwt`` and the key's ``kid``.

    ``headers`` override header fields (``typ=OMIT`` drops ``typ``); ``algorithm``
    signs with another algorithm than the key's own. Signed by hand, so that
    header and claims can hold what PyJWT's encoder would refuse to write.
    """
    material = material or key_store.signing_material()
    alg = algorithm or material.algorithm
    fields: dict[str, Any] = {"alg": alg, "typ": "at+jwt", "kid": material.kid, **headers}
    fields = {k: v for k, v in fields.items() if v is not OMIT}
    body = payload if payload is not None else claims()
    signing_input = f"{b64(json.dumps(fields).encode())}.{b64(json.dumps(body).encode())}"
    signature = get_default_algorithms()[alg].sign(signing_input.encode("ascii"), material.private_key)
    return f"{signing_input}.{b64(signature)}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forged(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS assembled by hand, as an attacker would."""
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.{b64(signature)}"


def hs256_with(secret: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """An HS256 JWS whose HMAC key is ``secret`` (e.g. the server's public key)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# -- views -----------------------------------------------------------------------


class _Protected(APIView):
    authentication_classes = [JWTAccessTokenAuthentication]
    audience = AUDIENCE

    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {
                "user": type(user).__name__,
                "client_id": user.client_id,
                "scopes": sorted(user.scopes),
                "audience": list(user.audience),
                "claims": request.auth,
            }
        )

    def post(self, request: Request) -> Response:
        return Response({"written": True}, status=201)

    def delete(self, request: Request) -> Response:
        return Response(status=204)


class ReadView(_Protected):
    permission_classes = [RequiredScopes]
    required_scopes = [READ]


class AuthenticatedView(_Protected):
    """No scope needed: any valid token for the audience."""

    permission_classes = [IsAuthenticated]


class ByMethodView(_Protected):
    permission_classes = [RequiredScopes]
    required_scopes_by_method = {"GET": [READ], "post": [WRITE]}


class StringScopesView(_Protected):
    permission_classes = [RequiredScopes]
    required_scopes = f"{READ} {WRITE}"


class OtherAudienceView(_Protected):
    permission_classes = [RequiredScopes]
    audience = "https://other.api"
    required_scopes = [READ]


class NoScopesView(_Protected):
    permission_classes = [RequiredScopes]


class NoAudienceView(_Protected):
    permission_classes = [RequiredScopes]
    audience = None
    required_scopes = [READ]


class WriteView(_Protected):
    permission_classes = [HasScope(WRITE)]


class AndView(_Protected):
    permission_classes = [HasScope(READ) & HasScope(WRITE)]


class OrView(_Protected):
    permission_classes = [HasScope(WRITE) | HasScope("admin")]


class NotView(_Protected):
    permission_classes = [IsAuthenticated & ~HasScope("banned")]


class HasScopeByMethodView(_Protected):
    permission_classes = [HasScope({"GET": [READ], "DELETE": [WRITE]})]


urlpatterns = [
    path("", include("logto_m2m_django.urls")),
    path("read", ReadView.as_view()),
    path("authenticated", AuthenticatedView.as_view()),
    path("by-method", ByMethodView.as_view()),
    path("string-scopes", StringScopesView.as_view()),
    path("other-audience", OtherAudienceView.as_view()),
    path("no-scopes", NoScopesView.as_view()),
    path("no-audience", NoAudienceView.as_view()),
    path("write", WriteView.as_view()),
    path("and", AndView.as_view()),
    path("or", OrView.as_view()),
    path("not", NotView.as_view()),
    path("has-scope-by-method", HasScopeByMethodView.as_view()),
]
