"""The Organizations section of the admin: members and their roles inline, roles with both kinds of scopes,
the application page listing its organizations, and the setup it makes yields organization tokens."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlencode

import pytest

from logto_m2m_django.models import Organization, OrganizationMembership, OrganizationRole, OrganizationScope, RoleType
from tests.admin_support import ADMIN, cells
from tests.conftest import FORM

pytestmark = pytest.mark.django_db


def _inline(prefix: str, rows: list[dict[str, object]]) -> dict[str, object]:
    data: dict[str, object] = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{i}-{key}"] = value
    return data


def test_setup_in_the_admin_then_an_organization_token(admin_client, shop, api_client):
    members = OrganizationScope.objects.create(name="read:members")
    response = admin_client.post(
        f"{ADMIN}/organizationrole/add/",
        {"name": "Tenant robot", "description": "", "type": RoleType.MACHINE_TO_MACHINE, "scopes": [members.pk]},
    )
    assert response.status_code == HTTPStatus.FOUND, response.content
    role = OrganizationRole.objects.get(name="Tenant robot")
    data = {"name": "Acme", "description": "", "custom_data": "{}"}
    data.update(_inline("memberships", [{"application": shop.app.pk, "roles": [role.pk]}]))
    response = admin_client.post(f"{ADMIN}/organization/add/", data)
    assert response.status_code == HTTPStatus.FOUND, response.content
    organization = Organization.objects.get(name="Acme")
    membership = OrganizationMembership.objects.get(organization=organization)
    assert list(membership.roles.all()) == [role]
    body = {"grant_type": "client_credentials", "organization_id": organization.pk, "scope": "read:members"}
    token = api_client.post("/oidc/token", urlencode(body), content_type=FORM, HTTP_AUTHORIZATION=shop.basic())
    assert token.status_code == HTTPStatus.OK and token.json()["scope"] == "read:members"
    page = admin_client.get(f"{ADMIN}/organization/{organization.pk}/change/").content.decode()
    assert f"urn:logto:organization:{organization.pk}" in page


def test_user_roles_are_not_offered_to_members(admin_client, shop):
    OrganizationRole.objects.create(name="Person", type=RoleType.USER)
    robot = OrganizationRole.objects.create(name="Robot")
    page = admin_client.get(f"{ADMIN}/organization/add/").content.decode()
    assert f'<option value="{robot.pk}">Robot</option>' in page
    assert ">Person</option>" not in page


def test_changelists_without_n_plus_one(admin_client, shop, django_assert_max_num_queries):
    for i in range(5):
        organization = Organization.objects.create(name=f"Org {i}")
        OrganizationMembership.objects.create(organization=organization, application=shop.app)
        OrganizationRole.objects.create(name=f"Role {i}")
    with django_assert_max_num_queries(8):
        listed = admin_client.get(f"{ADMIN}/organization/").content.decode()
    assert cells(listed, "member_count") == ["1"] * 5
    with django_assert_max_num_queries(8):
        assert admin_client.get(f"{ADMIN}/organizationrole/").status_code == HTTPStatus.OK


def test_the_application_page_lists_its_organizations(admin_client, shop):
    organization = Organization.objects.create(name="Acme")
    membership = OrganizationMembership.objects.create(organization=organization, application=shop.app)
    membership.roles.add(OrganizationRole.objects.create(name="Robot"))
    page = admin_client.get(f"{ADMIN}/m2mapplication/{shop.app.pk}/change/").content.decode()
    assert "Acme" in page and "Robot" in page
