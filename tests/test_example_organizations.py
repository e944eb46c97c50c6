"""The example project's tenant-scoped endpoint, GET /orgs/<organization_id>/reports, fed by this server's
own organization tokens: the right organization passes, every other kind of token is refused, no SQL."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlencode

import pytest

from logto_m2m_django.models import Organization, OrganizationMembership, OrganizationRole
from tests.conftest import FORM, SHOP

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(shop):
    organization = Organization.objects.create(name="Acme")
    role = OrganizationRole.objects.create(name="Report reader")
    role.resource_scopes.add(shop.read)
    OrganizationMembership.objects.create(organization=organization, application=shop.app).roles.add(role)
    return organization


def _token(api_client, shop, **params):
    body = {"grant_type": "client_credentials", "scope": "read:products", **params}
    response = api_client.post("/oidc/token", urlencode(body), content_type=FORM, HTTP_AUTHORIZATION=shop.basic())
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()["access_token"]


def _get(api_client, path, token):
    return api_client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_organization_token_of_the_api_opens_its_own_reports(shop, acme, api_client, django_assert_num_queries):
    token = _token(api_client, shop, resource=SHOP, organization_id=acme.pk)
    with django_assert_num_queries(0):
        response = _get(api_client, f"/orgs/{acme.pk}/reports", token)
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["organization_id"] == acme.pk


def test_other_tokens_are_refused(shop, acme, api_client):
    other = Organization.objects.create(name="Globex")
    OrganizationMembership.objects.create(organization=other, application=shop.app)
    acme_token = _token(api_client, shop, resource=SHOP, organization_id=acme.pk)
    assert _get(api_client, f"/orgs/{other.pk}/reports", acme_token).status_code == HTTPStatus.FORBIDDEN
    # The app's global token of the same API: no organization_id claim.
    global_token = _token(api_client, shop, resource=SHOP)
    assert _get(api_client, f"/orgs/{acme.pk}/reports", global_token).status_code == HTTPStatus.FORBIDDEN
    # A plain organization token: its audience is the organization, not the API.
    organization_token = _token(api_client, shop, organization_id=acme.pk)
    assert _get(api_client, f"/orgs/{acme.pk}/reports", organization_token).status_code == HTTPStatus.UNAUTHORIZED
    # Globex membership without roles: a token without read:products, refused with the RFC 6750 challenge.
    bare = _token(api_client, shop, resource=SHOP, organization_id=other.pk)
    response = _get(api_client, f"/orgs/{other.pk}/reports", bare)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
