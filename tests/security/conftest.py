"""Fixtures of the security suites: a real token's parts and a forger that signs anything."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import jwt
import pytest

from logto_m2m_django.keys import key_store
from logto_m2m_django.tokens import SigningMaterial
from tests.conftest import SHOP


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A JWS in compact form, put together by hand (PyJWT refuses to build some of these)."""
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{b64url(signature)}"


@dataclass
class Forger:
    """Signs tokens with the server's own Current key unless told otherwise."""

    material: SigningMaterial
    client_id: str

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://auth.example.com/oidc",
            "sub": self.client_id,
            "client_id": self.client_id,
            "aud": SHOP,
            "iat": now,
            "exp": now + 600,
            "jti": "forged-" + str(now),
            "scope": "read:products",
        }
        for name, value in overrides.items():
            if value is _DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def sign(
        self,
        claims: dict[str, Any] | None = None,
        *,
        key: Any = None,
        algorithm: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        header = {"typ": "at+jwt", "kid": self.material.kid}
        header.update(headers or {})
        return jwt.encode(
            claims if claims is not None else self.claims(),
            key if key is not None else self.material.private_key,
            algorithm=algorithm or self.material.algorithm,
            headers=header,
        )


#: Marks a claim to leave out in :meth:`Forger.claims`.
_DROP = object()
DROP: Any = _DROP


@pytest.fixture
def forger(shop: Any, access_token: str) -> Forger:
    """A forger holding the server's signing key (the access_token fixture made sure there is one)."""
    return Forger(key_store.signing_material(), shop.client_id)


@pytest.fixture
def call_products(api_client: Any) -> Callable[..., Any]:
    def _call(token: str | None = None, **extra: Any) -> Any:
        if token is not None:
            extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
        return api_client.get("/products", **extra)

    return _call


def assert_invalid_token(response: Any) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.content
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
