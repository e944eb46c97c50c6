"""End to end: the example project under gunicorn, driven by curl, requests-oauthlib and PyJWT.

One server (2 sync workers, so a token issued by one process is checked by
another) for the whole module, on a free loopback port with its own database.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import jwt
import pytest
import requests

pytest.importorskip("gunicorn", reason="the end-to-end tests serve the example project with gunicorn")
requests_oauthlib = pytest.importorskip("requests_oauthlib")
from oauthlib.oauth2 import BackendApplicationClient  # noqa: E402

from .e2e_support import ExampleServer, example_server  # noqa: E402

pytestmark = pytest.mark.e2e

SHOP = "https://shopping.api"
READ = "read:products"
TIMEOUT = 10
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleServer]:
    with example_server(tmp_path_factory.mktemp("e2e")) as running:
        yield running


@pytest.fixture
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses plain http unless told; the server listens on loopback only.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def curl(*args: str) -> tuple[int, dict[str, str], str]:
    """Run curl; returns status, response headers (lower-case names) and body."""
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", str(TIMEOUT), "--include", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT + 5,
        check=True,
    )
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def fetch_token(server: ExampleServer, *, post: bool = False) -> dict[str, Any]:
    """client_credentials with requests-oauthlib: Basic auth, or the credentials in the body."""
    client = BackendApplicationClient(client_id=server.client_id, scope=[READ])
    session = requests_oauthlib.OAuth2Session(client=client)
    return dict(
        session.fetch_token(
            token_url=server.url("/oidc/token"),
            client_id=server.client_id,
            client_secret=server.client_secret,
            include_client_id=post,
            resource=SHOP,
            timeout=TIMEOUT,
        )
    )


def assert_rfc9068_token(server: ExampleServer, access_token: str) -> dict[str, Any]:
    """Verify the token the way a third-party resource server would: discovery, JWKS, PyJWT."""
    discovery = requests.get(server.url("/oidc/.well-known/openid-configuration"), timeout=TIMEOUT).json()
    signing_key = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=False, timeout=TIMEOUT).get_signing_key_from_jwt(
        access_token
    )
    header = jwt.get_unverified_header(access_token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES384"
    claims = jwt.decode(
        access_token,
        signing_key,
        algorithms=[header["alg"]],
        audience=SHOP,
        issuer=server.issuer,
        options={"require": ["iss", "aud", "exp", "iat", "sub", "client_id", "jti"]},
    )
    assert claims["iss"] == server.issuer
    assert claims["aud"] == SHOP
    assert claims["sub"] == claims["client_id"] == server.client_id
    return claims


# -- token endpoint ------------------------------------------------------------------------


@needs_curl
def test_curl_quick_start_request(server):
    # The cURL request of Logto's M2M quick start, verbatim but for the host.
    auth = base64.b64encode(f"{server.client_id}:{server.client_secret}".encode()).decode()
    status, headers, body = curl(
        "--location",
        "--request",
        "POST",
        server.url("/oidc/token"),
        "--header",
        f"Authorization: Basic {auth}",
        "--header",
        "Content-Type: application/x-www-form-urlencoded",
        "--data-urlencode",
        "grant_type=client_credentials",
        "--data-urlencode",
        f"resource={SHOP}",
        "--data-urlencode",
        "scope=read:products write:products",
    )

    assert status == HTTPStatus.OK, body
    assert headers["cache-control"] == "no-store"
    token = json.loads(body)
    assert token["token_type"] == "Bearer"
    assert token["scope"] == READ
    assert token["expires_in"] == 3600
    assert assert_rfc9068_token(server, token["access_token"])["scope"] == READ

    # ... and the quick start's API call with it.
    status, _, products = curl(
        "--location",
        "--request",
        "GET",
        server.url("/products"),
        "--header",
        f"Authorization: Bearer {token['access_token']}",
    )
    assert status == HTTPStatus.OK, products
    assert isinstance(json.loads(products), list)


def test_requests_oauthlib_client_secret_basic(server, insecure_transport):
    token = fetch_token(server)

    assert token["token_type"] == "Bearer"
    assert token["scope"] == [READ]
    assert_rfc9068_token(server, token["access_token"])


def test_requests_oauthlib_client_secret_post(server, insecure_transport):
    token = fetch_token(server, post=True)

    assert token["scope"] == [READ]
    assert_rfc9068_token(server, token["access_token"])


def test_wrong_secret_is_refused(server):
    response = requests.post(
        server.url("/oidc/token"),
        data={"grant_type": "client_credentials", "resource": SHOP},
        auth=(server.client_id, "not-the-secret"),
        timeout=TIMEOUT,
    )

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error"] == "invalid_client"


# -- the protected API -----------------------------------------------------------------------


def test_products_read_allowed_write_forbidden(server, insecure_transport):
    access_token = fetch_token(server)["access_token"]
    auth = {"Authorization": f"Bearer {access_token}"}

    listed = requests.get(server.url("/products"), headers=auth, timeout=TIMEOUT)
    assert listed.status_code == HTTPStatus.OK
    assert {"id", "name", "price"} <= set(listed.json()[0])

    created = requests.post(
        server.url("/products"), headers=auth, data={"name": "Desk lamp", "price": "25.00"}, timeout=TIMEOUT
    )
    assert created.status_code == HTTPStatus.FORBIDDEN
    challenge = created.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="write:products"' in challenge


def test_products_without_or_with_a_bad_token(server):
    anonymous = requests.get(server.url("/products"), timeout=TIMEOUT)
    assert anonymous.status_code == HTTPStatus.UNAUTHORIZED
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="api"'

    forged = requests.get(server.url("/products"), headers={"Authorization": "Bearer a.b.c"}, timeout=TIMEOUT)
    assert forged.status_code == HTTPStatus.UNAUTHORIZED
    assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]


# -- discovery ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/oidc/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/oidc"]
)
def test_discovery_documents(server, path):
    response = requests.get(server.url(path), timeout=TIMEOUT)

    assert response.status_code == HTTPStatus.OK
    document = response.json()
    assert document["issuer"] == server.issuer
    assert document["token_endpoint"] == f"{server.issuer}/token"
    assert document["jwks_uri"] == f"{server.issuer}/jwks"
    assert "client_credentials" in document["grant_types_supported"]
    assert {"client_secret_basic", "client_secret_post"} <= set(document["token_endpoint_auth_methods_supported"])
    assert "ES384" in document["access_token_signing_alg_values_supported"]


def test_jwks_publishes_the_signing_key(server, insecure_transport):
    kid = jwt.get_unverified_header(fetch_token(server)["access_token"])["kid"]

    jwks = requests.get(server.url("/oidc/jwks"), timeout=TIMEOUT).json()

    assert kid in {key["kid"] for key in jwks["keys"]}
    assert all("d" not in key for key in jwks["keys"])  # public keys only
