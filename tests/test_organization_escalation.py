"""Organizations are no way into the Management API.

An organization role may hold API resource scopes, and a member app gets them in an organization-level
token of that API. The Management API is this project's own API, not a tenant's: an organization role
never holds its scopes (Management API and admin), the token endpoint issues no organization token for
it, and its guard refuses any token bound to an organization (the ``organization_id`` claim or the
``urn:logto:organization:`` audience), whoever signed it.
"""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from logto_m2m_django.keys import key_store
from logto_m2m_django.management_api.builtin import ensure_management_role
from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.models import (
    Organization,
    OrganizationMembership,
    OrganizationRole,
    Resource,
    Scope,
    TokenActivity,
)
from logto_m2m_django.tokens import build_claims, sign

from .admin_support import ADMIN
from .test_management_api_scopes import FORM, MGMT, _basic, caller, token_response

ISSUER = "https://auth.example.com/oidc"
pytestmark = pytest.mark.django_db


def _mgmt_scope(name: str) -> Scope:
    ensure_management_role()
    return Scope.objects.get(resource__indicator=MGMT, name=name)


def _shop_scope() -> Scope:
    resource = Resource.objects.create(name="Shop", indicator="https://shop.api")
    return Scope.objects.create(resource=resource, name="read:products")


# -- the Management API: an organization role never holds a Management API scope -----------------


@pytest.mark.parametrize("name", ["all", "read:applications"])
def test_creating_an_organization_role_with_a_management_scope_is_422(name: str) -> None:
    api = caller("all")
    scope = _mgmt_scope(name)
    response = api.post(
        "/api/organization-roles",
        {"name": "Tenant admin", "type": "MachineToMachine", "resourceScopeIds": [_shop_scope().id, scope.id]},
        format="json",
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, response.content
    body = response.json()
    assert body["code"] == "organization_role.management_api_scope_not_allowed"
    assert scope.id in body["message"]
    assert not OrganizationRole.objects.exists()


@pytest.mark.parametrize("method", ["post", "put"])
def test_adding_a_management_scope_to_an_organization_role_is_422(method: str) -> None:
    api = caller("all")
    shop = _shop_scope()
    role = OrganizationRole.objects.create(name="Reporter", type="MachineToMachine")
    role.resource_scopes.add(shop)
    response = getattr(api, method)(
        f"/api/organization-roles/{role.id}/resource-scopes",
        {"scopeIds": [_mgmt_scope("all").id]},
        format="json",
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, response.content
    assert response.json()["code"] == "organization_role.management_api_scope_not_allowed"
    assert list(role.resource_scopes.all()) == [shop]  # unchanged, PUT did not empty it either


def test_other_resource_scopes_still_go_on_organization_roles() -> None:
    api = caller("write:organizations")
    shop = _shop_scope()
    response = api.post("/api/organization-roles", {"name": "Reporter", "resourceScopeIds": [shop.id]}, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.content
    assert list(OrganizationRole.objects.get().resource_scopes.all()) == [shop]


# -- the token endpoint: no organization token of the Management API ------------------------------


@pytest.fixture
def member_holding_all() -> tuple[str, str, Organization]:
    """An app whose organization role holds ``all`` (rows made with the ORM, e.g. before this check existed)."""
    org = Organization.objects.create(name="Acme")
    role = OrganizationRole.objects.create(name="Sneaky", type="MachineToMachine")
    role.resource_scopes.add(_mgmt_scope("all"))
    m2m, secret = create_m2m_application("Tenant worker")
    OrganizationMembership.objects.create(organization=org, application=m2m).roles.add(role)
    return m2m.client_id, secret, org


def test_no_organization_token_is_issued_for_the_management_api(member_holding_all: tuple[str, str, Any]) -> None:
    client_id, secret, org = member_holding_all
    body = f"grant_type=client_credentials&resource={MGMT}&scope=all&organization_id={org.id}"
    response = APIClient().post("/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=_basic(client_id, secret))
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert response.json()["error"] == "invalid_target"
    assert "access_token" not in response.json()
    assert TokenActivity.objects.get().outcome != "success"


def test_without_the_organization_the_app_still_gets_nothing_of_the_management_api(
    member_holding_all: tuple[str, str, Any],
) -> None:
    client_id, secret, _org = member_holding_all
    response = token_response(client_id, secret)
    assert response.status_code == HTTPStatus.OK
    assert "scope" not in response.json()  # its global roles hold nothing


# -- the guard: tokens bound to an organization are refused, whoever signed them -------------------


def _signed(audience: Any, **extra: Any) -> str:
    claims = build_claims(
        issuer=ISSUER, client_id="forged", audience="x", scopes=["all"], lifetime=600, now=int(time.time())
    )
    claims["aud"] = audience
    claims.update(extra)
    return sign(claims, key_store.signing_material())


@pytest.mark.parametrize(
    ("audience", "extra"),
    [
        (MGMT, {"organization_id": "org-acme"}),
        ([MGMT, "urn:logto:organization:org-acme"], {}),
        ([MGMT, "urn:logto:organization:org-acme"], {"organization_id": "org-acme"}),
    ],
    ids=["organization_id claim", "organization audience", "both"],
)
def test_the_guard_refuses_organization_tokens(audience: Any, extra: dict[str, Any]) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer " + _signed(audience, **extra))
    response = api.get("/api/applications")
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.content
    challenge = response["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge and "organization" in challenge
    assert response.json()["code"] == "auth.unauthorized"
    assert api.post("/api/organizations", {"name": "x"}, format="json").status_code == HTTPStatus.UNAUTHORIZED
    assert not Organization.objects.exists()


def test_the_guard_still_accepts_a_plain_management_token() -> None:
    ensure_management_role()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer " + _signed(MGMT))
    assert api.get("/api/applications").status_code == HTTPStatus.OK


# -- the admin ---------------------------------------------------------------------------------------


def test_admin_does_not_offer_management_scopes_for_organization_roles(admin_client: Client) -> None:
    shop, mgmt = _shop_scope(), _mgmt_scope("all")
    page = admin_client.get(f"{ADMIN}/organizationrole/add/")
    assert page.status_code == HTTPStatus.OK
    choices = {str(pk) for pk, _label in page.context["adminform"].form.fields["resource_scopes"].choices}
    assert shop.pk in choices and mgmt.pk not in choices


def test_admin_refuses_a_management_scope_on_an_organization_role(admin_client: Client) -> None:
    mgmt = _mgmt_scope("read:applications")
    response = admin_client.post(
        f"{ADMIN}/organizationrole/add/",
        {"name": "Tenant admin", "description": "", "type": "MachineToMachine", "resource_scopes": [mgmt.pk]},
    )
    assert response.status_code == HTTPStatus.OK  # the form again, with its error
    assert not OrganizationRole.objects.exists()
    assert "resource_scopes" in response.context["adminform"].form.errors
