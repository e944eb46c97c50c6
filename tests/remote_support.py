"""Test helpers for remote mode: a stub issuer on a loopback port, and tokens signed the way Logto signs them."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from logto_m2m_django import tokens
from logto_m2m_django.drf import remote


@dataclass
class SigningKeyPair:
    kid: str
    algorithm: str
    private_key: Any

    def jwk(self, *, with_alg: bool = True) -> dict[str, Any]:
        jwk = tokens.public_jwk(self.private_key.public_key(), self.algorithm, self.kid)
        if not with_alg:
            jwk.pop("alg")
        return jwk

    def sign(self, claims: dict[str, Any], *, typ: str = "at+jwt", kid: str | None = None) -> str:
        headers = {"typ": typ, "kid": kid or self.kid}
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers=headers)


def new_key(algorithm: str = "ES384", kid: str | None = None) -> SigningKeyPair:
    if algorithm == "ES384":
        private_key: Any = ec.generate_private_key(ec.SECP384R1())
    elif algorithm == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "RS256":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:  # pragma: no cover
        raise ValueError(algorithm)
    # Logto's kids are random URL-safe strings.
    return SigningKeyPair(kid or secrets.token_urlsafe(32), algorithm, private_key)


def logto_m2m_claims(
    issuer: str,
    audience: str,
    *,
    client_id: str = "m2m-app-7h2kq9",
    scope: str | None = "read:products",
    lifetime: int = 3600,
    now: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Claims of a client-credentials access token as Logto issues it (RFC 9068 profile)."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "jti": secrets.token_urlsafe(21),
        "sub": client_id,
        "iat": issued,
        "exp": issued + lifetime,
        "client_id": client_id,
        "iss": issuer,
        "aud": audience,
    }
    if scope is not None:
        claims["scope"] = scope
    claims.update(extra)
    return claims


@dataclass
class StubIssuer:
    """An issuer's public side on a loopback port: discovery document and JWKS.

    ``mode``: "ok"; "down" (503 for everything); "hang" (holds each answer until
    ``release`` is set, at most 5 s). ``hits`` counts requests by path.
    """

    issuer: str = ""
    keys: list[SigningKeyPair] = field(default_factory=list)
    jwks_with_alg: bool = True
    extra_jwks_entries: list[dict[str, Any]] = field(default_factory=list)
    mode: str = "ok"
    hits: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/oidc/.well-known/openid-configuration"

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/oidc/jwks"

    def discovery_document(self) -> dict[str, Any]:
        # The fields of a Logto tenant's /oidc/.well-known/openid-configuration that matter here.
        issuer = self.issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/auth",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "userinfo_endpoint": f"{issuer}/me",
            "end_session_endpoint": f"{issuer}/session/end",
            "grant_types_supported": ["implicit", "authorization_code", "refresh_token", "client_credentials"],
            "id_token_signing_alg_values_supported": ["ES384"],
            "response_types_supported": ["code", "id_token", "code id_token"],
            "scopes_supported": ["openid", "offline_access", "profile", "email"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_jwt", "client_secret_post"],
        }

    def jwks_document(self) -> dict[str, Any]:
        return {"keys": [k.jwk(with_alg=self.jwks_with_alg) for k in self.keys] + self.extra_jwks_entries}


def _handler(stub: StubIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            stub.hits[self.path] += 1
            if stub.mode == "hang":
                stub.release.wait(5)
            if stub.mode == "down":
                self._send(503, b'{"error": "temporarily_unavailable"}')
            elif self.path.endswith("/.well-known/openid-configuration"):
                self._send(200, json.dumps(stub.discovery_document()).encode())
            elif self.path.endswith("/jwks"):
                self._send(200, json.dumps(stub.jwks_document()).encode())
            else:
                self._send(404, b"{}")

        def _send(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def stub_issuer(issuer: str | None = None, keys: list[SigningKeyPair] | None = None) -> Iterator[StubIssuer]:
    """A running :class:`StubIssuer`; ``issuer`` defaults to its own ``http://127.0.0.1:<port>/oidc``."""
    stub = StubIssuer(keys=list(keys or [new_key()]))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    stub.port = server.server_address[1]
    stub.issuer = issuer or f"{stub.base_url}/oidc"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def rewriting_fetch(public_base: str, stub: StubIssuer) -> Callable[[str, float], bytes]:
    """A real HTTP fetch that sends ``public_base`` URLs (e.g. https://tenant.logto.app) to the stub."""

    def fetch(url: str, timeout: float) -> bytes:
        if url.startswith(public_base):
            url = stub.base_url + url[len(public_base) :]
        return remote.fetch_url(url, timeout)

    return fetch


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
