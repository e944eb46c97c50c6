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
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from logto_m2m_django.drf import HasOrganization, HasOrganizationResource, organization_audience, validation
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


# -- organization tokens, built as Logto's code builds them ------------------------------------------------
#
# packages/core/src/oidc/grants/client-credentials.ts and grants/utils.ts (handleOrganizationToken): with
# organization_id and no resource, aud = buildOrganizationUrn(id), the scope claim is the issued organization
# scopes joined with spaces ("" when none), the lifetime 3600 s, and no organization_id claim.
# extra-token-claims.ts (getExtraTokenClaimsForOrganizationApiResource): with organization_id and resource,
# aud = the resource indicator and the claim organization_id = the id; scope absent when none is issued.

REPORTS = "https://reports.api"


def organization_token(tenant: StubIssuer, organization: str, scope: str = "read:members") -> str:
    """An organization token (client_credentials with organization_id, no resource)."""
    return tenant.keys[0].sign(logto_m2m_claims(ISSUER, organization_audience(organization), scope=scope))


def organization_resource_token(tenant: StubIssuer, organization: str, scope: str | None = "export:reports") -> str:
    """An organization-level API resource token (client_credentials with organization_id and resource)."""
    claims = logto_m2m_claims(ISSUER, REPORTS, scope=scope, organization_id=organization)
    return tenant.keys[0].sign(claims)


def test_organization_token_for_the_organization_in_the_url(tenant: StubIssuer) -> None:
    response = call("/orgs/org-acme/members", organization_token(tenant, "org-acme"))
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json() == {"organization_id": "org-acme", "client_id": "m2m-app-7h2kq9"}


def test_organization_token_of_another_organization_is_refused(tenant: StubIssuer) -> None:
    # Its audience is the other organization's, so authentication already refuses it.
    response = call("/orgs/org-globex/members", organization_token(tenant, "org-acme"))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_organization_token_without_the_organization_scope_gets_insufficient_scope(tenant: StubIssuer) -> None:
    for scope in ("", "read:invoices"):  # Logto writes scope "" when it issues no organization scope
        response = call("/orgs/org-acme/members", organization_token(tenant, "org-acme", scope=scope))
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
        assert 'scope="read:members"' in response["WWW-Authenticate"]


def test_organization_resource_token_does_not_open_an_organization_view(tenant: StubIssuer) -> None:
    response = call("/orgs/org-acme/members", organization_resource_token(tenant, "org-acme"))
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_resource_token_does_not_open_an_organization_view(tenant: StubIssuer) -> None:
    response = call("/orgs/org-acme/members", tenant.keys[0].sign(logto_m2m_claims(ISSUER, SHOP)))
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_fixed_organization_view(tenant: StubIssuer) -> None:
    assert call("/acme", organization_token(tenant, "org-acme")).status_code == HTTPStatus.OK
    assert call("/acme", organization_token(tenant, "org-globex")).status_code == HTTPStatus.UNAUTHORIZED


def test_organization_resource_token_for_the_organization_in_the_url(tenant: StubIssuer) -> None:
    response = call("/orgs/org-acme/reports", organization_resource_token(tenant, "org-acme"))
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json() == {"organization_id": "org-acme", "scopes": ["export:reports"]}
    assert call("/acme/reports", organization_resource_token(tenant, "org-acme")).status_code == HTTPStatus.OK


def test_organization_resource_token_of_another_organization_gets_a_plain_403(tenant: StubIssuer) -> None:
    for path in ("/orgs/org-globex/reports", "/acme/reports"):
        response = call(
            path, organization_resource_token(tenant, "org-globex" if path == "/acme/reports" else "org-acme")
        )
        assert response.status_code == HTTPStatus.FORBIDDEN
        # Another organization is no scope problem: no insufficient_scope challenge (RFC 6750 §3.1).
        assert "insufficient_scope" not in response.get("WWW-Authenticate", "")


def test_global_token_of_the_same_api_does_not_open_an_organization_resource_view(tenant: StubIssuer) -> None:
    global_token = tenant.keys[0].sign(logto_m2m_claims(ISSUER, REPORTS, scope="export:reports"))
    assert call("/orgs/org-acme/reports", global_token).status_code == HTTPStatus.FORBIDDEN


def test_organization_token_does_not_open_an_organization_resource_view(tenant: StubIssuer) -> None:
    response = call("/orgs/org-acme/reports", organization_token(tenant, "org-acme", scope="export:reports"))
    assert response.status_code == HTTPStatus.UNAUTHORIZED  # its audience is the organization, not the API


def test_organization_resource_token_without_the_scope_gets_insufficient_scope(tenant: StubIssuer) -> None:
    response = call("/orgs/org-acme/reports", organization_resource_token(tenant, "org-acme", scope=None))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert 'scope="export:reports"' in response["WWW-Authenticate"]


def test_each_class_accepts_its_own_kind_and_refuses_the_other(tenant: StubIssuer) -> None:
    """The same checks without the view's audience: each Logto token kind passes one class only."""
    validator = validation.get_validator()
    org = validator.validate(organization_token(tenant, "org-acme"), organization_audience("org-acme"))
    api = validator.validate(organization_resource_token(tenant, "org-acme"), REPORTS)
    view = SimpleNamespace(kwargs={"organization_id": "org-acme"})

    def allowed(permission: Any, principal: Any) -> bool:
        return bool(permission().has_permission(SimpleNamespace(user=principal), view))

    assert allowed(HasOrganization(), org) and not allowed(HasOrganizationResource(), org)
    assert allowed(HasOrganizationResource(), api) and not allowed(HasOrganization(), api)
