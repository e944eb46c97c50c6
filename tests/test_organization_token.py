"""POST /oidc/token with ``organization_id``: Logto's organization tokens for client credentials.

The cases follow Logto's client-credentials grant (packages/core/src/oidc/grants/client-credentials.ts)
and its integration tests (packages/integration-tests/src/tests/api/oidc/client-credentials-grant.test.ts,
"organization token"): membership first (403 access_denied), the organization token (URN audience, no
organization_id claim, the organization scopes of the app's organization roles), the organization-level
API resource token (the resource's audience, the organization_id claim, only the organization roles'
resource scopes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.test import override_settings

from logto_m2m_django.keys import key_store
from logto_m2m_django.models import (
    Organization,
    OrganizationMembership,
    OrganizationRole,
    OrganizationScope,
    Resource,
    RoleType,
    Scope,
    TokenActivity,
)
from logto_m2m_django.provisioning import create_application
from tests.conftest import SHOP, cold_grant_cache
from tests.test_oauth_token import JSON, assert_error, basic, decode, post

pytestmark = pytest.mark.django_db

REPORTS = "https://reports.api"


@dataclass
class Tenant:
    organization: Organization
    membership: OrganizationMembership
    read_members: OrganizationScope
    invite_members: OrganizationScope
    export: Scope
    view: Scope
    audit: Scope
    role: OrganizationRole


@pytest.fixture
def acme(shop) -> Tenant:
    """The shop's app is a member of Acme with a machine-to-machine organization role."""
    organization = Organization.objects.create(name="Acme", description="A customer")
    read_members = OrganizationScope.objects.create(name="read:members")
    invite_members = OrganizationScope.objects.create(name="invite:members")
    reports = Resource.objects.create(name="Reports", indicator=REPORTS)
    export = Scope.objects.create(resource=reports, name="export:reports")
    view = Scope.objects.create(resource=reports, name="view:reports")
    audit = Scope.objects.create(resource=reports, name="audit:reports")
    role = OrganizationRole.objects.create(name="Tenant robot", type=RoleType.MACHINE_TO_MACHINE)
    role.scopes.add(read_members)
    role.resource_scopes.add(export, view)
    membership = OrganizationMembership.objects.create(organization=organization, application=shop.app)
    membership.roles.add(role)
    return Tenant(organization, membership, read_members, invite_members, export, view, audit, role)


def token(api_client, shop, **params):
    return post(api_client, {"grant_type": "client_credentials", **params}, auth=shop.basic())


# -- Logto's "organization token" cases ----------------------------------------------------------------


def test_non_member_gets_403_access_denied_and_no_token(shop, api_client):
    response = token(api_client, shop, organization_id="not-found")
    assert_error(response, HTTPStatus.FORBIDDEN, "access_denied", "app has not associated with the organization")


def test_non_member_asking_with_a_resource_gets_403_not_a_global_token(shop, acme, api_client):
    """The security defect: organization_id was dropped and a global token came back."""
    other = Organization.objects.create(name="Globex")
    response = token(api_client, shop, organization_id=other.id, resource=SHOP, scope="read:products")
    assert_error(response, HTTPStatus.FORBIDDEN, "access_denied")
    # Membership comes first, as in Logto: an unknown or malformed resource does not change the answer.
    for resource in ("https://not-found.api", "not a uri"):
        response = token(api_client, shop, organization_id=other.id, resource=resource)
        assert_error(response, HTTPStatus.FORBIDDEN, "access_denied")


def test_membership_of_another_app_does_not_count(shop, acme, api_client):
    other_app, other_secret = create_application("Other")
    response = post(
        api_client,
        {"grant_type": "client_credentials", "organization_id": acme.organization.id},
        auth=basic(other_app.client_id, other_secret),
    )
    assert_error(response, HTTPStatus.FORBIDDEN, "access_denied")


def test_organization_token_without_scopes(shop, api_client):
    organization = Organization.objects.create(name="test-organization")
    OrganizationMembership.objects.create(organization=organization, application=shop.app)
    response = token(api_client, shop, organization_id=organization.id)
    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}  # no scope granted: no "scope" (DESIGN §3)
    assert body["expires_in"] == 3600
    _, claims = decode(api_client, body["access_token"], audience=f"urn:logto:organization:{organization.id}")
    assert claims["aud"] == f"urn:logto:organization:{organization.id}"
    assert "organization_id" not in claims
    assert "scope" not in claims


def test_organization_token_with_valid_scope(shop, acme, api_client):
    response = token(api_client, shop, organization_id=acme.organization.id, scope="read:members unknown-scope")
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["scope"] == "read:members"
    audience = f"urn:logto:organization:{acme.organization.id}"
    _, claims = decode(api_client, response.json()["access_token"], audience=audience)
    assert claims["scope"] == "read:members"
    assert claims["exp"] - claims["iat"] == 3600
    assert "organization_id" not in claims


def test_organization_token_ignores_the_default_resource_and_resource_scopes(shop, acme, api_client):
    Resource.objects.filter(pk=shop.resource.pk).update(is_default=True)
    response = token(
        api_client, shop, organization_id=acme.organization.id, scope="read:members export:reports read:products"
    )
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["scope"] == "read:members"
    _, claims = decode(api_client, response.json()["access_token"], audience=acme.organization.audience)
    assert claims["aud"] == acme.organization.audience


def test_organization_token_with_valid_scope_and_resource(shop, acme, api_client):
    scope = "export:reports view:reports audit:reports read:members random-scope"
    response = token(api_client, shop, organization_id=acme.organization.id, resource=REPORTS, scope=scope)
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["scope"] == "export:reports view:reports"
    _, claims = decode(api_client, response.json()["access_token"], audience=REPORTS)
    assert claims["aud"] == REPORTS
    assert claims["organization_id"] == acme.organization.id
    assert claims["scope"] == "export:reports view:reports"


def test_organization_resource_token_only_issues_requested_scopes(shop, acme, api_client):
    first = token(api_client, shop, organization_id=acme.organization.id, resource=REPORTS, scope="export:reports")
    assert first.json()["scope"] == "export:reports"
    empty = token(api_client, shop, organization_id=acme.organization.id, resource=REPORTS, scope="")
    assert empty.status_code == HTTPStatus.OK
    assert "scope" not in empty.json()
    _, claims = decode(api_client, empty.json()["access_token"], audience=REPORTS)
    assert claims["organization_id"] == acme.organization.id
    assert "scope" not in claims


def test_global_roles_do_not_count_in_an_organization_resource_token(shop, acme, api_client):
    """The app holds read:products globally; inside Acme it holds nothing on the shop."""
    response = token(api_client, shop, organization_id=acme.organization.id, resource=SHOP, scope="read:products")
    assert response.status_code == HTTPStatus.OK, response.content
    assert "scope" not in response.json()
    _, claims = decode(api_client, response.json()["access_token"], audience=SHOP)
    assert claims["organization_id"] == acme.organization.id
    assert claims["exp"] - claims["iat"] == shop.resource.access_token_ttl


def test_resource_only_is_unchanged_and_has_no_organization_claim(shop, acme, api_client):
    response = token(api_client, shop, resource=REPORTS, scope="export:reports")
    assert response.status_code == HTTPStatus.OK
    assert "scope" not in response.json()  # organization roles do not count outside the organization
    _, claims = decode(api_client, response.json()["access_token"], audience=REPORTS)
    assert "organization_id" not in claims


def test_user_type_organization_roles_grant_nothing(shop, acme, api_client):
    OrganizationRole.objects.filter(pk=acme.role.pk).update(type=RoleType.USER)
    response = token(api_client, shop, organization_id=acme.organization.id, scope="read:members")
    assert response.status_code == HTTPStatus.OK
    assert "scope" not in response.json()
    response = token(api_client, shop, organization_id=acme.organization.id, resource=REPORTS, scope="export:reports")
    assert "scope" not in response.json()


def test_roles_in_another_organization_do_not_count(shop, acme, api_client):
    globex = Organization.objects.create(name="Globex")
    OrganizationMembership.objects.create(organization=globex, application=shop.app)
    response = token(api_client, shop, organization_id=globex.id, scope="read:members")
    assert response.status_code == HTTPStatus.OK
    assert "scope" not in response.json()
    response = token(api_client, shop, organization_id=globex.id, resource=REPORTS, scope="export:reports")
    assert "scope" not in response.json()


def test_unknown_resource_with_an_organization_is_invalid_target(shop, acme, api_client):
    response = token(api_client, shop, organization_id=acme.organization.id, resource="https://not-found.api")
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_target", "The requested resource is not registered.")
    response = token(api_client, shop, organization_id=acme.organization.id, resource="https://reports.api#x")
    body = assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_target")
    assert "fragment" in body["error_description"]


def test_removing_the_membership_stops_the_tokens(shop, acme, api_client):
    acme.membership.delete()
    response = token(api_client, shop, organization_id=acme.organization.id)
    assert_error(response, HTTPStatus.FORBIDDEN, "access_denied")


# -- input ---------------------------------------------------------------------------------------------------


def test_repeated_organization_id_is_invalid_request(shop, acme, api_client):
    org = acme.organization.id
    body = f"grant_type=client_credentials&organization_id={org}&organization_id={org}"
    response = post(api_client, body, auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request", 'The "organization_id" parameter is repeated.')


def test_empty_organization_id_is_invalid_request_not_a_global_token(shop, acme, api_client):
    response = token(api_client, shop, organization_id="", resource=SHOP, scope="read:products")
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request", 'The "organization_id" parameter is empty.')


def test_json_body_with_organization_id(shop, acme, api_client):
    body = {"grant_type": "client_credentials", "organization_id": acme.organization.id, "scope": "read:members"}
    response = post(api_client, json.dumps(body), content_type=JSON, auth=shop.basic())
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["scope"] == "read:members"
    for bad in (["a", "b"], 42, None):
        response = post(api_client, json.dumps({**body, "organization_id": bad}), content_type=JSON, auth=shop.basic())
        assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


@pytest.mark.parametrize("value", ["x" * 5000, "org\u00e9\u4e2d", "' OR 1=1 --"])
def test_odd_organization_ids_are_403_never_500(shop, acme, api_client, value):
    response = token(api_client, shop, organization_id=value)
    assert_error(response, HTTPStatus.FORBIDDEN, "access_denied")


def test_nul_in_organization_id_is_invalid_request(shop, api_client):
    response = post(api_client, "grant_type=client_credentials&organization_id=a%00b", auth=shop.basic())
    assert_error(response, HTTPStatus.BAD_REQUEST, "invalid_request")


def test_client_authentication_still_comes_first(shop, acme, api_client):
    response = post(
        api_client,
        {"grant_type": "client_credentials", "organization_id": acme.organization.id},
        auth=basic(shop.client_id, "wrong" * 9),
    )
    assert_error(response, HTTPStatus.UNAUTHORIZED, "invalid_client")


# -- budgets and records --------------------------------------------------------------------------------------


@pytest.fixture
def no_activity_log():
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "TOKEN_ACTIVITY_LOG": False}):
        yield


@pytest.mark.parametrize("with_resource", [False, True])
def test_organization_tokens_cost_two_reads(
    no_activity_log, shop, acme, api_client, with_resource, django_assert_num_queries
):
    key_store.signing_material()
    extra = {"resource": REPORTS, "scope": "export:reports"} if with_resource else {"scope": "read:members"}
    token(api_client, shop, organization_id=acme.organization.id, **extra)  # the last-used stamp is written once
    cold_grant_cache()
    with django_assert_num_queries(2):
        response = token(api_client, shop, organization_id=acme.organization.id, **extra)
    assert response.status_code == HTTPStatus.OK
    # The client from the grant cache; an organization grant is always read (membership may change).
    with django_assert_num_queries(1):
        response = token(api_client, shop, organization_id=acme.organization.id, **extra)
    assert response.status_code == HTTPStatus.OK
    with django_assert_num_queries(1):
        response = token(api_client, shop, organization_id="not-a-member", **extra)
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_activity_log_records_the_organization(shop, acme, api_client):
    token(api_client, shop, organization_id=acme.organization.id, resource=REPORTS, scope="export:reports")
    token(api_client, shop, organization_id="org-nope")
    ok, refused = TokenActivity.objects.order_by("pk")
    assert (ok.outcome, ok.organization_id, ok.resource, ok.scopes) == (
        "success",
        acme.organization.id,
        REPORTS,
        "export:reports",
    )
    assert (refused.outcome, refused.organization_id, refused.error, refused.status_code) == (
        "failure",
        "org-nope",
        "access_denied",
        403,
    )


# -- database constraints ------------------------------------------------------------------------------------


def test_an_app_is_a_member_once(shop, acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        OrganizationMembership.objects.create(organization=acme.organization, application=shop.app)


def test_deleting_an_organization_removes_memberships_and_their_roles(shop, acme):
    through = OrganizationMembership.roles.through
    assert through.objects.count() == 1
    acme.organization.delete()
    assert OrganizationMembership.objects.count() == 0
    assert through.objects.count() == 0
    assert OrganizationRole.objects.filter(pk=acme.role.pk).exists()


@pytest.mark.parametrize("model", [OrganizationScope, OrganizationRole])
def test_scope_and_role_names_are_unique(db, model):
    model.objects.create(name="same")
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(name="same")
