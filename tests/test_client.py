"""logto_m2m_django.client: the token source and its requests / httpx adapters."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from logto_m2m_django.client import (
    DiscoveryError,
    HTTPXAuth,
    RequestsAuth,
    TokenEndpointUnavailable,
    TokenRequestError,
    TokenSource,
)
from tests.remote_support import FakeClock

ENDPOINT = "https://auth.example.com/oidc/token"
ROOT = Path(__file__).resolve().parent.parent


class FakeTokenEndpoint:
    """A transport that answers token requests: ``tok-1``, ``tok-2``... or the queued answers."""

    def __init__(self, expires_in: int = 3600) -> None:
        self.expires_in = expires_in
        self.requests: list[dict[str, Any]] = []
        self.answers: list[tuple[int, bytes] | Exception] = []
        self.hold: threading.Event | None = None

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, bytes]:
        self.requests.append({"method": method, "url": url, "headers": dict(headers), "body": body})
        if self.hold is not None:
            self.hold.wait(5)
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        document = {
            "access_token": f"tok-{len(self.requests)}",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": "read:products",
        }
        return 200, json.dumps(document).encode()

    def form(self, index: int = -1) -> dict[str, list[str]]:
        return parse_qs((self.requests[index]["body"] or b"").decode())


def make_source(endpoint: FakeTokenEndpoint, clock: FakeClock | None = None, **kwargs: Any) -> TokenSource:
    options: dict[str, Any] = {
        "client_id": "app-id",
        "client_secret": "app-secret",
        "resource": "https://shopping.api",
        "scopes": ["read:products", "write:products"],
        "token_endpoint": ENDPOINT,
        "clock": clock or FakeClock(),
        "transport": endpoint,
    }
    options.update(kwargs)
    return TokenSource(**options)


def test_token_is_requested_once_and_reused() -> None:
    endpoint = FakeTokenEndpoint()
    source = make_source(endpoint)
    assert [source.token() for _ in range(10)] == ["tok-1"] * 10
    assert len(endpoint.requests) == 1
    request = endpoint.requests[0]
    assert request["method"] == "POST" and request["url"] == ENDPOINT
    assert request["headers"]["Authorization"] == "Basic " + base64.b64encode(b"app-id:app-secret").decode()
    assert endpoint.form() == {
        "grant_type": ["client_credentials"],
        "resource": ["https://shopping.api"],
        "scope": ["read:products write:products"],
    }
    assert source.get_token().scope == "read:products"


def test_token_is_renewed_shortly_before_it_expires() -> None:
    endpoint, clock = FakeTokenEndpoint(expires_in=3600), FakeClock()
    source = make_source(endpoint, clock, refresh_before=60)
    assert source.token() == "tok-1"
    clock.advance(3539)
    assert source.token() == "tok-1"
    clock.advance(1)
    assert source.token() == "tok-2"


def test_short_lived_token_is_renewed_at_half_its_lifetime() -> None:
    endpoint, clock = FakeTokenEndpoint(expires_in=20), FakeClock()
    source = make_source(endpoint, clock, refresh_before=60)
    source.token()
    clock.advance(9)
    assert source.token() == "tok-1"
    clock.advance(1)
    assert source.token() == "tok-2"


def test_many_threads_share_one_token_request() -> None:
    endpoint = FakeTokenEndpoint()
    endpoint.hold = threading.Event()
    source = make_source(endpoint)
    results: list[str] = []
    workers = [threading.Thread(target=lambda: results.append(source.token())) for _ in range(12)]
    for worker in workers:
        worker.start()
    endpoint.hold.set()
    for worker in workers:
        worker.join(10)
    assert results == ["tok-1"] * 12
    assert len(endpoint.requests) == 1


def test_oauth_error_carries_the_rfc_code_and_description() -> None:
    endpoint = FakeTokenEndpoint()
    body = {"error": "invalid_target", "error_description": "The resource indicator is unknown."}
    endpoint.answers.append((400, json.dumps(body).encode()))
    with pytest.raises(TokenRequestError) as caught:
        make_source(endpoint).token()
    assert caught.value.error == "invalid_target"
    assert caught.value.description == "The resource indicator is unknown."
    assert caught.value.status == HTTPStatus.BAD_REQUEST
    assert str(caught.value) == "invalid_target: The resource indicator is unknown."


def test_invalid_client_is_a_token_request_error() -> None:
    endpoint = FakeTokenEndpoint()
    endpoint.answers.append((401, b'{"error": "invalid_client"}'))
    with pytest.raises(TokenRequestError) as caught:
        make_source(endpoint).token()
    assert (caught.value.error, caught.value.description, caught.value.status) == ("invalid_client", None, 401)


@pytest.mark.parametrize(
    "answer",
    [
        (502, b"<html>Bad gateway</html>"),
        (200, b'{"token_type": "Bearer"}'),
        (200, b'{"access_token": "x", "token_type": "mac"}'),
        ConnectionRefusedError("refused"),
        TimeoutError("timed out"),
    ],
)
def test_unusable_answers_and_network_failures(answer: Any) -> None:
    endpoint = FakeTokenEndpoint()
    endpoint.answers.append(answer)
    with pytest.raises(TokenEndpointUnavailable):
        make_source(endpoint).token()


def test_valid_token_is_kept_while_the_endpoint_is_down() -> None:
    endpoint, clock = FakeTokenEndpoint(expires_in=3600), FakeClock()
    source = make_source(endpoint, clock)
    source.token()
    clock.advance(3550)  # due for renewal, still valid
    endpoint.answers.append(ConnectionResetError("reset"))
    assert source.token() == "tok-1"
    clock.advance(60)  # expired now
    endpoint.answers.append(ConnectionResetError("reset"))
    with pytest.raises(TokenEndpointUnavailable):
        source.token()


def test_credentials_are_form_encoded_for_basic_auth() -> None:
    endpoint = FakeTokenEndpoint()
    make_source(endpoint, client_id="id:1", client_secret="p@ss w/ord").token()
    header = endpoint.requests[0]["headers"]["Authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")) == b"id%3A1:p%40ss+w%2Ford"


def test_client_secret_post_sends_credentials_in_the_body() -> None:
    endpoint = FakeTokenEndpoint()
    make_source(endpoint, auth_method="client_secret_post", organization_id="org-acme", scopes="a b").token()
    assert "Authorization" not in endpoint.requests[0]["headers"]
    form = endpoint.form()
    assert form["client_id"] == ["app-id"] and form["client_secret"] == ["app-secret"]
    assert form["organization_id"] == ["org-acme"] and form["scope"] == ["a b"]


def test_token_endpoint_is_discovered_from_the_issuer() -> None:
    endpoint = FakeTokenEndpoint()
    metadata = {"issuer": "https://tenant.logto.app/oidc", "token_endpoint": "https://tenant.logto.app/oidc/token"}
    endpoint.answers.append((200, json.dumps(metadata).encode()))
    source = make_source(endpoint, token_endpoint=None, issuer="https://tenant.logto.app/oidc/")
    assert source.token() == "tok-2"
    source.invalidate()
    source.token()
    urls = [(r["method"], r["url"]) for r in endpoint.requests]
    assert urls == [
        ("GET", "https://tenant.logto.app/oidc/.well-known/openid-configuration"),
        ("POST", "https://tenant.logto.app/oidc/token"),
        ("POST", "https://tenant.logto.app/oidc/token"),
    ]


def test_discovery_of_another_issuer_is_refused() -> None:
    endpoint = FakeTokenEndpoint()
    metadata = {"issuer": "https://evil.example/oidc", "token_endpoint": "https://evil.example/oidc/token"}
    endpoint.answers.append((200, json.dumps(metadata).encode()))
    with pytest.raises(DiscoveryError):
        make_source(endpoint, token_endpoint=None, issuer="https://tenant.logto.app/oidc").token()


def test_invalidate_drops_only_the_named_token() -> None:
    endpoint = FakeTokenEndpoint()
    source = make_source(endpoint)
    source.token()
    source.invalidate("some-older-token")
    assert source.token() == "tok-1"
    source.invalidate("tok-1")
    assert source.token() == "tok-2"


def test_repr_hides_the_secret() -> None:
    assert "app-secret" not in repr(make_source(FakeTokenEndpoint()))


def test_client_module_needs_neither_django_nor_the_orm() -> None:
    script = "import sys, logto_m2m_django.client; print(sorted(m for m in sys.modules if m.startswith('django')))"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- adapters ---------------------------------------------------------------------------------------


class API:
    """A protected API on a loopback port that accepts only the tokens in ``accepted``."""

    def __init__(self) -> None:
        self.accepted: set[str] = set()
        self.seen: list[str] = []


@pytest.fixture
def api() -> Iterator[tuple[API, str]]:
    state = API()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization", "")
            state.seen.append(auth)
            status = 200 if auth.removeprefix("Bearer ") in state.accepted else 401
            body = b'{"ok": true}' if status == 200 else b'{"detail": "invalid_token"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="api", error="invalid_token"')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/products"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_requests_auth_retries_once_with_a_new_token_after_a_401(api: tuple[API, str]) -> None:
    requests = pytest.importorskip("requests")
    state, url = api
    endpoint = FakeTokenEndpoint()
    source = make_source(endpoint)
    state.accepted = {"tok-2"}  # the API no longer accepts tok-1 (e.g. revoked, key rotated)
    with requests.Session() as session:
        session.auth = RequestsAuth(source)
        response = session.get(url, timeout=5)
        assert response.status_code == HTTPStatus.OK
        assert [r.status_code for r in response.history] == [401]
        assert state.seen == ["Bearer tok-1", "Bearer tok-2"]
        assert session.get(url, timeout=5).status_code == HTTPStatus.OK  # tok-2 is cached now
    assert len(endpoint.requests) == 2


def test_requests_auth_retries_only_once(api: tuple[API, str]) -> None:
    requests = pytest.importorskip("requests")
    state, url = api
    endpoint = FakeTokenEndpoint()
    response = requests.get(url, auth=RequestsAuth(make_source(endpoint)), timeout=5)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert len(state.seen) == 2 and len(endpoint.requests) == 2


def _httpx_api(accepted: set[str], seen: list[str]) -> Any:
    httpx = pytest.importorskip("httpx")

    def handler(request: Any) -> Any:
        auth = request.headers.get("Authorization", "")
        seen.append(auth)
        return httpx.Response(200 if auth.removeprefix("Bearer ") in accepted else 401, json={})

    return httpx.MockTransport(handler)


def test_httpx_auth_retries_once_with_a_new_token_after_a_401() -> None:
    httpx = pytest.importorskip("httpx")
    endpoint, seen = FakeTokenEndpoint(), []
    auth = HTTPXAuth(make_source(endpoint))
    with httpx.Client(transport=_httpx_api({"tok-2"}, seen), auth=auth) as client:
        assert client.get("https://shop.example/products").status_code == HTTPStatus.OK
        assert client.get("https://shop.example/products").status_code == HTTPStatus.OK
    assert seen == ["Bearer tok-1", "Bearer tok-2", "Bearer tok-2"]
    with httpx.Client(transport=_httpx_api(set(), seen), auth=auth) as client:
        assert client.get("https://shop.example/products").status_code == HTTPStatus.UNAUTHORIZED
    assert seen[3:] == ["Bearer tok-2", "Bearer tok-3"]  # one retry, then the 401 stands
    assert len(endpoint.requests) == 3


def test_httpx_async_auth() -> None:
    httpx = pytest.importorskip("httpx")
    endpoint, seen = FakeTokenEndpoint(), []
    auth = HTTPXAuth(make_source(endpoint))

    async def main() -> list[int]:
        async with httpx.AsyncClient(transport=_httpx_api({"tok-2"}, seen), auth=auth) as client:
            first = await client.get("https://shop.example/products")
            second = await client.get("https://shop.example/products")
        return [first.status_code, second.status_code]

    assert asyncio.run(main()) == [HTTPStatus.OK, HTTPStatus.OK]
    assert seen == ["Bearer tok-1", "Bearer tok-2", "Bearer tok-2"]
