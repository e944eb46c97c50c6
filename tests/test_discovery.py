"""GET /oidc/jwks (RFC 7517) and the two discovery documents (OIDC Discovery 1.0, RFC 8414)."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlsplit

import jwt
import pytest
from django.conf import settings
from django.test import override_settings

from logto_m2m_django.keys import key_store
from logto_m2m_django.models import SigningKey

pytestmark = pytest.mark.django_db

ISSUER = "https://auth.example.com/oidc"
DISCOVERY_URLS = ["/oidc/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/oidc"]


# -- JWKS ---------------------------------------------------------------------------------------------------


def test_jwks_creates_the_first_key_and_parses_as_a_jwk_set(api_client):
    response = api_client.get("/oidc/jwks")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    key_set = jwt.PyJWKSet.from_dict(response.json())
    current = SigningKey.objects.get()
    assert [key.key_id for key in key_set.keys] == [current.kid]
    assert key_set[current.kid].algorithm_name == "ES384"
    assert key_set[current.kid].public_key_use == "sig"


def test_jwks_never_contains_private_material(api_client):
    key_store.signing_material()
    key_store.rotate("RS256")
    key_store.rotate(staged=True)
    for key in api_client.get("/oidc/jwks").json()["keys"]:
        assert not set(key) & {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def test_jwks_publishes_current_next_and_previous(api_client):
    first = key_store.signing_material().kid
    second = key_store.rotate().kid
    staged = key_store.rotate(staged=True).kid
    kids = {key.key_id for key in jwt.PyJWKSet.from_dict(api_client.get("/oidc/jwks").json()).keys}
    assert kids == {first, second, staged}


def test_jwks_verifies_issued_tokens(shop, access_token, api_client):
    key_set = jwt.PyJWKSet.from_dict(api_client.get("/oidc/jwks").json())
    header = jwt.get_unverified_header(access_token)
    claims = jwt.decode(
        access_token, key_set[header["kid"]], algorithms=[header["alg"]], audience="https://shopping.api", issuer=ISSUER
    )
    assert claims["client_id"] == shop.client_id


def test_jwks_caching_headers(api_client):
    response = api_client.get("/oidc/jwks")
    assert response["Cache-Control"] == "public, max-age=300"
    assert response["Access-Control-Allow-Origin"] == "*"


def test_jwks_runs_no_query_once_keys_are_loaded(api_client, django_assert_num_queries):
    api_client.get("/oidc/jwks")
    with django_assert_num_queries(0):
        assert api_client.get("/oidc/jwks").status_code == HTTPStatus.OK


def test_jwks_head_and_other_methods(api_client):
    assert api_client.head("/oidc/jwks").status_code == HTTPStatus.OK
    response = api_client.post("/oidc/jwks")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET, HEAD"


# -- discovery ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", DISCOVERY_URLS)
def test_discovery_document(api_client, url):
    response = api_client.get(url)
    assert response.status_code == HTTPStatus.OK
    document = response.json()
    # RFC 8414 §3.3: the issuer must be the one the document was retrieved for.
    assert document["issuer"] == ISSUER
    assert document["token_endpoint"] == f"{ISSUER}/token"
    assert document["jwks_uri"] == f"{ISSUER}/jwks"
    assert document["grant_types_supported"] == ["client_credentials"]
    assert set(document["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert "ES384" in document["access_token_signing_alg_values_supported"]
    assert "HS256" not in document["access_token_signing_alg_values_supported"]
    assert response["Access-Control-Allow-Origin"] == "*"


def test_both_discovery_urls_serve_the_same_document(api_client):
    first, second = (api_client.get(url).json() for url in DISCOVERY_URLS)
    assert first == second


def test_discovered_endpoints_are_served_here(shop, api_client):
    document = api_client.get(DISCOVERY_URLS[0]).json()
    jwks_path = urlsplit(document["jwks_uri"]).path
    assert api_client.get(jwks_path).status_code == HTTPStatus.OK
    token_path = urlsplit(document["token_endpoint"]).path
    assert token_path == "/oidc/token"


def test_discovery_follows_the_settings(api_client):
    custom = {**settings.LOGTO_M2M, "ISSUER": "https://login.example.org/oidc/", "ACCEPTED_ALGORITHMS": ["EdDSA"]}
    with override_settings(LOGTO_M2M=custom):
        document = api_client.get(DISCOVERY_URLS[1]).json()
    assert document["issuer"] == "https://login.example.org/oidc"
    assert document["token_endpoint"] == "https://login.example.org/oidc/token"
    assert document["access_token_signing_alg_values_supported"] == ["EdDSA"]


def test_discovery_without_issuer_is_a_json_server_error(api_client):
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "ISSUER": None}):
        response = api_client.get(DISCOVERY_URLS[0])
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.json() == {"error": "server_error"}


def test_discovery_runs_no_query(api_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api_client.get(DISCOVERY_URLS[0])
    assert response.status_code == HTTPStatus.OK
    assert response.json()["token_endpoint"].endswith("/token")


@pytest.mark.parametrize("url", DISCOVERY_URLS)
def test_discovery_other_methods(api_client, url):
    response = api_client.post(url)
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
