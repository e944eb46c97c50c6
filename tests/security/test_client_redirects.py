"""The client library never sends credentials to another origin or over plain http after a redirect.

Real servers: 127.0.0.1 and 127.0.0.2 (another machine) on their own ports, plain or TLS
(tests/http_support.py). Each test asserts what the other origin received: nothing secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from logto_m2m_django.client import (
    DiscoveryError,
    HTTPXAuth,
    RequestsAuth,
    TokenEndpointUnavailable,
    TokenSource,
    UnsafeRedirectError,
)
from tests.http_support import Certificate, Seen, Server, make_certificate, serving, trust

SECRET = "s3cret-value-never-elsewhere"


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: Any) -> Certificate:
    certificate = make_certificate(tmp_path)
    trust(monkeypatch, certificate)
    return certificate


@pytest.fixture
def here() -> Iterator[Server]:
    with serving("127.0.0.1") as server:
        yield server


@pytest.fixture
def elsewhere() -> Iterator[Server]:
    with serving("127.0.0.2") as server:
        yield server


def token_endpoint(server: Server, path: str = "/oidc/token") -> list[Seen]:
    """A token endpoint at ``path`` answering a new token per request; returns the requests it saw."""
    seen: list[Seen] = []

    def answer(request: Seen) -> tuple[int, dict[str, str], bytes]:
        seen.append(request)
        body = {"access_token": f"token-{len(seen)}", "token_type": "Bearer", "expires_in": 3600}
        return 200, {}, json.dumps(body).encode()

    server.routes[path] = answer
    return seen


def source(url: str, auth_method: str = "client_secret_basic") -> TokenSource:
    return TokenSource(
        token_endpoint=url, client_id="app-1", client_secret=SECRET, resource="https://shopping.api",
        auth_method=auth_method, timeout=5,
    )  # fmt: skip


def assert_no_credentials(server: Server) -> None:
    for seen in server.requests:
        assert "authorization" not in seen.headers, seen
        assert SECRET.encode() not in seen.body, seen


AUTH_METHODS = pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])


# -- TokenSource (urllib) ------------------------------------------------------------------------


@AUTH_METHODS
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_token_endpoint_redirect_to_another_origin_gets_no_credentials(
    here: Server, elsewhere: Server, status: int, auth_method: str
) -> None:
    token_endpoint(elsewhere, "/token")
    here.redirect("/oidc/token", f"{elsewhere.base_url}/token", status=status)
    with pytest.raises(UnsafeRedirectError, match="another origin"):
        source(f"{here.base_url}/oidc/token", auth_method).get_token()
    assert_no_credentials(elsewhere)


@AUTH_METHODS
def test_token_endpoint_redirect_to_another_port_gets_no_credentials(here: Server, auth_method: str) -> None:
    with serving("127.0.0.1") as other_port:
        token_endpoint(other_port, "/token")
        here.redirect("/oidc/token", f"{other_port.base_url}/token")
        with pytest.raises(UnsafeRedirectError):
            source(f"{here.base_url}/oidc/token", auth_method).get_token()
        assert_no_credentials(other_port)


@AUTH_METHODS
@pytest.mark.parametrize("status", [302, 307])
def test_https_token_endpoint_redirect_to_plain_http_gets_no_credentials(
    certificate: Certificate, here: Server, auth_method: str, status: int
) -> None:
    token_endpoint(here, "/token")
    with serving("127.0.0.1", certificate) as tls:
        tls.redirect("/oidc/token", f"{here.base_url}/token", status=status)
        with pytest.raises(UnsafeRedirectError):
            source(f"{tls.base_url}/oidc/token", auth_method).get_token()
    assert_no_credentials(here)


@AUTH_METHODS
def test_same_origin_307_keeps_the_request(here: Server, auth_method: str) -> None:
    # A permanent move within the server (a trailing slash, a new path) still works, credentials and all.
    seen = token_endpoint(here, "/oidc/token/")
    here.redirect("/oidc/token", f"{here.base_url}/oidc/token/", status=308)
    assert source(f"{here.base_url}/oidc/token", auth_method).token() == "token-1"
    assert seen[0].method == "POST" and b"grant_type=client_credentials" in seen[0].body
    if auth_method == "client_secret_basic":
        assert seen[0].headers["authorization"].startswith("Basic ")


def test_same_origin_302_of_the_post_is_a_clear_error(here: Server) -> None:
    token_endpoint(here, "/elsewhere")
    here.redirect("/oidc/token", "/elsewhere", status=302)
    with pytest.raises(UnsafeRedirectError, match="307 or 308"):
        source(f"{here.base_url}/oidc/token").get_token()
    assert here.requests[-1].path == "/oidc/token"  # not re-sent as a GET


def test_discovery_redirected_from_https_to_http_is_refused(certificate: Certificate, here: Server) -> None:
    with serving("127.0.0.1", certificate) as tls:
        issuer = f"{tls.base_url}/oidc"
        here.route("/discovery", 200, json.dumps({"issuer": issuer, "token_endpoint": f"{issuer}/token"}).encode())
        tls.redirect("/oidc/.well-known/openid-configuration", f"{here.base_url}/discovery", status=302)
        token_source = TokenSource(issuer=issuer, client_id="app-1", client_secret=SECRET, timeout=5)
        with pytest.raises(DiscoveryError):
            token_source.get_token()
    assert here.requests == []


def test_unsafe_redirect_is_a_token_endpoint_error(here: Server, elsewhere: Server) -> None:
    # Callers that handle TokenEndpointUnavailable handle this too.
    here.redirect("/oidc/token", f"{elsewhere.base_url}/token")
    with pytest.raises(TokenEndpointUnavailable):
        source(f"{here.base_url}/oidc/token").get_token()


# -- RequestsAuth and HTTPXAuth: the API redirects to a host that answers 401 ---------------------------


def _api_redirecting_to_a_401(here: Server, elsewhere: Server) -> list[Seen]:
    tokens = token_endpoint(here)
    elsewhere.route("/collect", 401, b'{"error": "invalid_token"}', WWW_Authenticate='Bearer error="invalid_token"')
    here.redirect("/products", f"{elsewhere.base_url}/collect", status=302)
    return tokens


def test_requests_auth_does_not_retry_with_a_token_at_a_foreign_401(here: Server, elsewhere: Server) -> None:
    tokens = _api_redirecting_to_a_401(here, elsewhere)
    response = requests.get(f"{here.base_url}/products", auth=RequestsAuth(source(f"{here.base_url}/oidc/token")))
    assert response.status_code == 401
    assert elsewhere.requests, "the redirect was followed"
    assert_no_credentials(elsewhere)
    assert len(tokens) == 1  # a foreign 401 does not make us drop and renew our token either


def test_httpx_auth_does_not_retry_at_a_foreign_401(here: Server, elsewhere: Server) -> None:
    tokens = _api_redirecting_to_a_401(here, elsewhere)
    with httpx.Client(auth=HTTPXAuth(source(f"{here.base_url}/oidc/token")), follow_redirects=True) as client:
        response = client.get(f"{here.base_url}/products")
    assert response.status_code == 401
    assert_no_credentials(elsewhere)
    assert len(tokens) == 1
    assert [seen.path for seen in here.requests].count("/products") == 1


async def _httpx_async(url: str, token_url: str) -> httpx.Response:
    async with httpx.AsyncClient(auth=HTTPXAuth(source(token_url)), follow_redirects=True) as client:
        return await client.get(url)


def test_httpx_async_auth_does_not_retry_at_a_foreign_401(here: Server, elsewhere: Server) -> None:
    import asyncio

    tokens = _api_redirecting_to_a_401(here, elsewhere)
    response = asyncio.run(_httpx_async(f"{here.base_url}/products", f"{here.base_url}/oidc/token"))
    assert response.status_code == 401
    assert_no_credentials(elsewhere)
    assert len(tokens) == 1


def test_a_nested_token_response_is_a_clear_error(here: Server) -> None:
    here.route("/oidc/token", 200, b"[" * 100_000)
    with pytest.raises(TokenEndpointUnavailable, match="no access_token"):
        source(f"{here.base_url}/oidc/token").get_token()


@pytest.mark.parametrize("transport", ["requests", "httpx"])
def test_a_401_from_the_api_itself_still_renews_the_token_once(here: Server, transport: str) -> None:
    tokens = token_endpoint(here)
    answers = iter([401, 200])
    here.routes["/products"] = lambda seen: (next(answers), {}, b"{}")
    token_source = source(f"{here.base_url}/oidc/token")
    if transport == "requests":
        status = requests.get(f"{here.base_url}/products", auth=RequestsAuth(token_source)).status_code
    else:
        with httpx.Client(auth=HTTPXAuth(token_source)) as client:
            status = client.get(f"{here.base_url}/products").status_code
    assert status == 200
    assert len(tokens) == 2
    sent = [seen.headers["authorization"] for seen in here.requests if seen.path == "/products"]
    assert sent == ["Bearer token-1", "Bearer token-2"]
