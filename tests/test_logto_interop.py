"""Tokens exactly as a Logto Cloud tenant issues them, validated in remote mode.

A stub on a loopback port plays the tenant ``https://k7x2p9.logto.app``: it
serves a Logto-shaped discovery document and JWKS, and the fetch sends the
tenant's URLs to it over real HTTP. Tokens carry what Logto puts in them:
ES384, ``typ: at+jwt``, a random ``kid``, ``iss`` = the tenant's ``/oidc``, ``aud`` =
the resource indicator (or ``urn:logto:organization:<id>``), ``sub`` = ``client_id``.
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from logto_m2m_django.drf import organization_audience, validation
from logto_m2m_django.drf.remote import RemoteKeySource
from tests.remote_support import StubIssuer, logto_m2m_claims, new_key, rewriting_fetch, stub_issuer

TENANT = "https://k7x2p9.logto.app"
ISSUER = f"{TENANT}/oidc"
SHOP = "https://shopping.api"

pytestmark = pytest.mark.urls("tests.remote_urls")


@pytest.fixture
def tenant() -> Iterator[StubIssuer]:
    """The tenant's public endpoints, and this process validating against them (no ``db``: no SQL allowed)."""
    with stub_issuer(issuer=ISSUER, keys=[new_key("ES384")]) as stub:
        stub.jwks_with_alg = False  # a JWKS entry may omit "alg"; the curve tells ES384
        with override_settings(LOGTO_M2M={"ISSUER": ISSUER, "KEY_SOURCE": "remote"}):
            validation._validator = validation.TokenValidator(
                RemoteKeySource(fetch=rewriting_fetch(TENANT, stub), timeout=2)
            )
            yield stub


def call(path: str, token: str) -> Any:
    return APIClient().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_logto_m2m_token_is_accepted(tenant: StubIssuer) -> None:
    token = tenant.keys[0].sign(logto_m2m_claims(ISSUER, SHOP, scope="read:products write:products"))
    response = call("/shop", token)
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json() == {"client_id": "m2m-app-7h2kq9", "scopes": ["read:products", "write:products"]}
    # Discovery at the tenant's well-known URL, then its jwks_uri.
    assert tenant.hits == {"/oidc/.well-known/openid-configuration": 1, "/oidc/jwks": 1}


def test_logto_token_without_the_scope_gets_403_insufficient_scope(tenant: StubIssuer) -> None:
    response = call("/shop", tenant.keys[0].sign(logto_m2m_claims(ISSUER, SHOP, scope=None)))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert 'scope="read:products"' in response["WWW-Authenticate"]


def test_logto_rsa_tenant_key_is_accepted(tenant: StubIssuer) -> None:
    rsa_key = new_key("RS256")
    tenant.keys.append(rsa_key)
    response = call("/shop", rsa_key.sign(logto_m2m_claims(ISSUER, SHOP)))
    assert response.status_code == HTTPStatus.OK, response.content


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"iss": "https://other.logto.app/oidc"}, "another issuer"),
        ({"aud": "https://billing.api"}, "not meant for this API"),
        ({"exp": 1_000_000_000, "iat": 999_996_400}, "expired"),
    ],
)
def test_logto_token_for_another_tenant_or_api_is_refused(
    tenant: StubIssuer, change: dict[str, Any], detail: str
) -> None:
    response = call("/shop", tenant.keys[0].sign({**logto_m2m_claims(ISSUER, SHOP), **change}))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert detail in response.json()["detail"]


def test_plain_jwt_typ_is_refused(tenant: StubIssuer) -> None:
    # An ID token or any other JWT of the tenant is not an access token (RFC 9068 §4).
    response = call("/shop", tenant.keys[0].sign(logto_m2m_claims(ISSUER, SHOP), typ="JWT"))
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def organization_token(tenant: StubIssuer, organization: str, /, **claims: Any) -> str:
    """An organization token as Logto issues it to an M2M app (client_credentials with organization_id)."""
    base = logto_m2m_claims(
        ISSUER, organization_audience(organization), scope="read:members", organization_id=organization
    )
    return tenant.keys[0].sign({**base, **claims})


def test_organization_token_for_the_organization_in_the_url(tenant: StubIssuer) -> None:
    response = call("/orgs/org-acme/members", organization_token(tenant, "org-acme"))
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json() == {"organization_id": "org-acme", "client_id": "m2m-app-7h2kq9"}


def test_organization_token_of_another_organization_is_refused(tenant: StubIssuer) -> None:
    # Its audience is the other organization's, so authentication already refuses it.
    response = call("/orgs/org-globex/members", organization_token(tenant, "org-acme"))
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_organization_claim_must_match_the_audience(tenant: StubIssuer) -> None:
    mismatched = organization_token(tenant, "org-acme", organization_id="org-globex")
    assert call("/orgs/org-acme/members", mismatched).status_code == HTTPStatus.FORBIDDEN
    without_claim = tenant.keys[0].sign(
        logto_m2m_claims(ISSUER, organization_audience("org-acme"), scope="read:members")
    )
    assert call("/orgs/org-acme/members", without_claim).status_code == HTTPStatus.FORBIDDEN


def test_organization_scope_is_required(tenant: StubIssuer) -> None:
    response = call("/orgs/org-acme/members", organization_token(tenant, "org-acme", scope="read:invoices"))
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_resource_token_does_not_open_an_organization_view(tenant: StubIssuer) -> None:
    response = call("/orgs/org-acme/members", tenant.keys[0].sign(logto_m2m_claims(ISSUER, SHOP)))
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_fixed_organization_view(tenant: StubIssuer) -> None:
    assert call("/acme", organization_token(tenant, "org-acme")).status_code == HTTPStatus.OK
    assert call("/acme", organization_token(tenant, "org-globex")).status_code == HTTPStatus.UNAUTHORIZED
