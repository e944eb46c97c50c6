"""The organization routes of the Management API: Logto's paths, JSON, pagination, search and status codes,
and the organization setup of Logto's client-credentials integration test driven through them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from rest_framework.test import APIClient

from logto_m2m_django.management_api.builtin import ensure_management_role
from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.models import Organization, OrganizationMembership, OrganizationRole
from tests.test_management_api import _app, _basic, _patch, _post, _resource, _scope, _token

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def api(db: Any) -> APIClient:
    admin, secret = create_m2m_application("Admin script", roles=[ensure_management_role()])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + _token(client, admin.client_id, secret))
    return client


def _org(api: APIClient, name: str = "Acme", **extra: Any) -> dict[str, Any]:
    response = _post(api, "/api/organizations", {"name": name, **extra})
    assert response.status_code == HTTPStatus.CREATED, response.content
    return dict(response.json())


def _org_scope(api: APIClient, name: str) -> dict[str, Any]:
    response = _post(api, "/api/organization-scopes", {"name": name, "description": f"{name}!"})
    assert response.status_code == HTTPStatus.CREATED, response.content
    return dict(response.json())


def _org_role(api: APIClient, name: str, **extra: Any) -> dict[str, Any]:
    response = _post(api, "/api/organization-roles", {"name": name, "type": "MachineToMachine", **extra})
    assert response.status_code == HTTPStatus.CREATED, response.content
    return dict(response.json())


def _put(api: APIClient, url: str, body: Any) -> Any:
    return api.put(url, body, format="json")


# -- /api/organizations -----------------------------------------------------------------------------------------


def test_organization_crud(api):
    created = _org(api, "Acme", description="A customer", customData={"plan": "pro"})
    assert {k: created[k] for k in ("name", "description", "customData")} == {
        "name": "Acme",
        "description": "A customer",
        "customData": {"plan": "pro"},
    }
    assert isinstance(created["createdAt"], int) and created["id"]
    url = f"/api/organizations/{created['id']}"
    assert api.get(url).json() == created
    patched = _patch(api, url, {"name": "Acme Inc", "customData": {"plan": "free"}}).json()
    assert (patched["name"], patched["customData"], patched["description"]) == (
        "Acme Inc",
        {"plan": "free"},
        "A customer",
    )
    assert api.delete(url).status_code == HTTPStatus.NO_CONTENT
    missing = api.get(url)
    assert missing.status_code == HTTPStatus.NOT_FOUND
    assert missing.json()["code"] == "entity.not_exists_with_id"


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "x" * 129}, {"name": 5}, {"name": "A", "customData": [1]}, {"name": "a\x00"}]
)
def test_organization_bad_input_is_400(api, body):
    response = _post(api, "/api/organizations", body)
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert response.json()["code"] == "guard.invalid_input"


def test_organization_list_pagination_and_q(api):
    for name in ("Acme", "Globex", "Acme West"):
        _org(api, name)
    everything = api.get("/api/organizations")
    assert len(everything.json()) == 3
    page = api.get("/api/organizations?page=1&page_size=2")
    assert len(page.json()) == 2 and page["Total-Number"] == "3"
    found = api.get("/api/organizations?" + urlencode({"q": "acme", "page": 1}))
    assert sorted(o["name"] for o in found.json()) == ["Acme", "Acme West"]
    assert found["Total-Number"] == "2"


def test_the_guard_comes_first(db):
    response = APIClient().get("/api/organizations")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("Bearer")


# -- members and their roles -----------------------------------------------------------------------------------------


def test_members_add_list_replace_and_remove(api, django_assert_max_num_queries):
    org = _org(api)
    apps = [_app(api, f"Robot {i}") for i in range(3)]
    url = f"/api/organizations/{org['id']}/applications"
    assert _post(api, url, {"applicationIds": [apps[0]["id"], apps[1]["id"]]}).status_code == HTTPStatus.CREATED
    # Adding a member again changes nothing (Logto: ON CONFLICT DO NOTHING).
    assert _post(api, url, {"applicationIds": [apps[0]["id"]]}).status_code == HTTPStatus.CREATED
    role = _org_role(api, "Robot")
    _post(api, f"{url}/{apps[0]['id']}/roles", {"organizationRoleIds": [role["id"]]})
    with django_assert_max_num_queries(6):  # no query per member
        listed = api.get(url)
    assert listed["Total-Number"] == "2"
    by_id = {item["id"]: item for item in listed.json()}
    assert by_id[apps[0]["id"]]["organizationRoles"] == [{"id": role["id"], "name": "Robot"}]
    assert by_id[apps[1]["id"]]["organizationRoles"] == []
    assert by_id[apps[0]["id"]]["type"] == "MachineToMachine"
    assert "secret" not in by_id[apps[0]["id"]]
    assert _put(api, url, {"applicationIds": [apps[2]["id"], apps[0]["id"]]}).status_code == HTTPStatus.NO_CONTENT
    assert {item["id"] for item in api.get(url).json()} == {apps[2]["id"], apps[0]["id"]}
    # The kept member keeps its roles.
    assert api.get(f"{url}/{apps[0]['id']}/roles").json()[0]["id"] == role["id"]
    assert api.delete(f"{url}/{apps[0]['id']}").status_code == HTTPStatus.NO_CONTENT
    assert api.delete(f"{url}/{apps[0]['id']}").status_code == HTTPStatus.NOT_FOUND
    assert OrganizationMembership.roles.through.objects.count() == 0
    assert _put(api, url, {"applicationIds": []}).status_code == HTTPStatus.NO_CONTENT
    assert api.get(url).json() == []


def test_unknown_ids_in_relation_bodies_are_422(api):
    org = _org(api)
    app = _app(api, "Robot")
    url = f"/api/organizations/{org['id']}/applications"
    response = _post(api, url, {"applicationIds": [app["id"], "no-such-app"]})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["code"] == "entity.relation_foreign_key_not_found"
    assert not OrganizationMembership.objects.exists()  # all or nothing
    response = _post(api, "/api/organizations/no-such-org/applications", {"applicationIds": [app["id"]]})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert _post(api, url, {"applicationIds": []}).status_code == HTTPStatus.BAD_REQUEST
    assert api.get("/api/organizations/no-such-org/applications").status_code == HTTPStatus.NOT_FOUND


def test_roles_only_for_members(api):
    org = _org(api)
    app = _app(api, "Robot")
    role = _org_role(api, "Robot")
    base = f"/api/organizations/{org['id']}/applications"
    for response in (
        api.get(f"{base}/{app['id']}/roles"),
        _post(api, f"{base}/{app['id']}/roles", {"organizationRoleIds": [role["id"]]}),
        _post(api, f"{base}/roles", {"applicationIds": [app["id"]], "organizationRoleIds": [role["id"]]}),
    ):
        assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, response.content
        assert response.json()["code"] == "organization.require_membership"


def test_member_roles_post_put_delete_and_the_bulk_route(api):
    org = _org(api)
    apps = [_app(api, "A"), _app(api, "B")]
    base = f"/api/organizations/{org['id']}/applications"
    _post(api, base, {"applicationIds": [a["id"] for a in apps]})
    reader, writer = _org_role(api, "Reader"), _org_role(api, "Writer")
    bulk = {"applicationIds": [a["id"] for a in apps], "organizationRoleIds": [reader["id"]]}
    assert _post(api, f"{base}/roles", bulk).status_code == HTTPStatus.CREATED
    for app in apps:
        assert [r["name"] for r in api.get(f"{base}/{app['id']}/roles").json()] == ["Reader"]
    url = f"{base}/{apps[0]['id']}/roles"
    assert _post(api, url, {"organizationRoleIds": [writer["id"]]}).status_code == HTTPStatus.CREATED
    paged = api.get(f"{url}?page=1&page_size=1")
    assert paged["Total-Number"] == "2" and len(paged.json()) == 1
    assert _put(api, url, {"organizationRoleIds": [writer["id"]]}).status_code == HTTPStatus.NO_CONTENT
    assert [r["name"] for r in api.get(url).json()] == ["Writer"]
    assert api.delete(f"{url}/{writer['id']}").status_code == HTTPStatus.NO_CONTENT
    assert api.delete(f"{url}/{writer['id']}").status_code == HTTPStatus.NOT_FOUND
    response = _post(api, url, {"organizationRoleIds": ["no-such-role"]})
    assert response.json()["code"] == "entity.relation_foreign_key_not_found"


def test_user_roles_are_not_given_to_applications(api):
    org = _org(api)
    app = _app(api, "Robot")
    user_role = _org_role(api, "Person", type="User")
    _post(api, f"/api/organizations/{org['id']}/applications", {"applicationIds": [app["id"]]})
    response = _post(
        api,
        f"/api/organizations/{org['id']}/applications/{app['id']}/roles",
        {"organizationRoleIds": [user_role["id"]]},
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["code"] == "organization.role_type_not_match"


def test_application_organizations(api):
    app = _app(api, "Robot")
    acme, globex, _other = _org(api, "Acme"), _org(api, "Globex"), _org(api, "Initech")
    role = _org_role(api, "Robot")
    for org in (acme, globex):
        _post(api, f"/api/organizations/{org['id']}/applications", {"applicationIds": [app["id"]]})
    _post(api, f"/api/organizations/{acme['id']}/applications/{app['id']}/roles", {"organizationRoleIds": [role["id"]]})
    listed = {o["name"]: o for o in api.get(f"/api/applications/{app['id']}/organizations").json()}
    assert set(listed) == {"Acme", "Globex"}
    assert listed["Acme"]["organizationRoles"] == [{"id": role["id"], "name": "Robot"}]
    assert listed["Globex"]["organizationRoles"] == []
    assert api.get("/api/applications/nope/organizations").status_code == HTTPStatus.NOT_FOUND


# -- /api/organization-roles and /api/organization-scopes --------------------------------------------------------


def test_organization_roles_with_both_kinds_of_scopes(api, django_assert_max_num_queries):
    resource = _resource(api, "https://reports.api", "Reports")
    export = _scope(api, resource["id"], "export:reports")
    members = _org_scope(api, "read:members")
    role = _org_role(
        api, "Robot", description="Robots", organizationScopeIds=[members["id"]], resourceScopeIds=[export["id"]]
    )
    assert {k: role[k] for k in ("name", "description", "type")} == {
        "name": "Robot",
        "description": "Robots",
        "type": "MachineToMachine",
    }
    _org_role(api, "Other")
    with django_assert_max_num_queries(6):
        listed = api.get("/api/organization-roles")
    assert listed["Total-Number"] == "2"
    item = next(r for r in listed.json() if r["id"] == role["id"])
    assert item["scopes"] == [{"id": members["id"], "name": "read:members"}]
    assert item["resourceScopes"] == [
        {"id": export["id"], "name": "export:reports", "resource": {"id": resource["id"], "name": "Reports"}}
    ]
    assert [r["name"] for r in api.get("/api/organization-roles?q=rob").json()] == ["Robot"]
    assert api.get(f"/api/organization-roles/{role['id']}").json() == role
    duplicate = _post(api, "/api/organization-roles", {"name": "Robot"})
    assert duplicate.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert duplicate.json()["code"] == "entity.unique_integrity_violation"
    bad = _post(api, "/api/organization-roles", {"name": "New", "resourceScopeIds": ["nope"]})
    assert bad.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert not OrganizationRole.objects.filter(name="New").exists()
    assert _patch(api, f"/api/organization-roles/{role['id']}", {"name": "Robots"}).json()["name"] == "Robots"
    assert api.delete(f"/api/organization-roles/{role['id']}").status_code == HTTPStatus.NO_CONTENT
    assert api.get(f"/api/organization-roles/{role['id']}").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    ("path", "key", "kind"), [("scopes", "organizationScopeIds", "org"), ("resource-scopes", "scopeIds", "api")]
)
def test_role_scope_relations(api, path, key, kind):
    resource = _resource(api, "https://reports.api", "Reports")
    if kind == "org":
        a, b = _org_scope(api, "a:members"), _org_scope(api, "b:members")
    else:
        a, b = _scope(api, resource["id"], "a:reports"), _scope(api, resource["id"], "b:reports")
    role = _org_role(api, "Robot")
    url = f"/api/organization-roles/{role['id']}/{path}"
    assert _post(api, url, {key: [a["id"]]}).status_code == HTTPStatus.CREATED
    assert [s["name"] for s in api.get(url).json()] == [a["name"]]
    assert _put(api, url, {key: [b["id"], a["id"]]}).status_code == HTTPStatus.NO_CONTENT
    assert sorted(s["name"] for s in api.get(url).json()) == sorted([a["name"], b["name"]])
    assert api.delete(f"{url}/{a['id']}").status_code == HTTPStatus.NO_CONTENT
    assert api.delete(f"{url}/{a['id']}").status_code == HTTPStatus.NOT_FOUND
    assert _post(api, url, {key: ["nope"]}).status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert _post(api, url, {key: []}).status_code == HTTPStatus.BAD_REQUEST
    assert _put(api, url, {key: []}).status_code == HTTPStatus.NO_CONTENT
    assert api.get(url).json() == []


def test_organization_scopes_crud_and_duplicate_names(api):
    scope = _org_scope(api, "read:members")
    assert scope["description"] == "read:members!"
    duplicate = _post(api, "/api/organization-scopes", {"name": "read:members"})
    assert duplicate.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    other = _org_scope(api, "invite:members")
    renamed = _patch(api, f"/api/organization-scopes/{other['id']}", {"name": "read:members"})
    assert renamed.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    listed = api.get("/api/organization-scopes?page_size=1")
    assert listed["Total-Number"] == "2" and len(listed.json()) == 1
    assert [s["name"] for s in api.get("/api/organization-scopes?q=invite").json()] == ["invite:members"]
    assert api.get(f"/api/organization-scopes/{scope['id']}").json() == scope
    assert api.delete(f"/api/organization-scopes/{scope['id']}").status_code == HTTPStatus.NO_CONTENT
    assert api.get(f"/api/organization-scopes/{scope['id']}").status_code == HTTPStatus.NOT_FOUND


# -- the whole setup through the API, then tokens (Logto's integration test, "organization token") -------------------


def test_setup_through_the_api_then_organization_tokens(api):
    app = _post(api, "/api/applications", {"name": "client credentials test", "type": "MachineToMachine"}).json()
    client = APIClient()

    def token(**params: str) -> Any:
        body = {"grant_type": "client_credentials", **params}
        return client.post(
            "/oidc/token", urlencode(body), content_type=FORM, HTTP_AUTHORIZATION=_basic(app["id"], app["secret"])
        )

    assert token(organization_id="not-found").status_code == HTTPStatus.FORBIDDEN
    org = _org(api, "test-organization")
    assert token(organization_id=org["id"]).status_code == HTTPStatus.FORBIDDEN
    _post(api, f"/api/organizations/{org['id']}/applications", {"applicationIds": [app["id"]]})
    members = _org_scope(api, "read:members")
    resource = _resource(api, "https://reports.api", "Reports")
    s1, s2, _s3 = (_scope(api, resource["id"], f"scope{i}") for i in (1, 2, 3))
    role = _org_role(api, "cc-role", organizationScopeIds=[members["id"]], resourceScopeIds=[s1["id"], s2["id"]])
    _post(api, f"/api/organizations/{org['id']}/applications/{app['id']}/roles", {"organizationRoleIds": [role["id"]]})

    plain = token(organization_id=org["id"], scope="read:members random")
    assert plain.json()["scope"] == "read:members"
    claims = jwt.decode(plain.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == f"urn:logto:organization:{org['id']}" and "organization_id" not in claims
    scoped = token(organization_id=org["id"], resource="https://reports.api", scope="scope1 scope2 scope3 random")
    assert scoped.json()["scope"] == "scope1 scope2"
    claims = jwt.decode(scoped.json()["access_token"], options={"verify_signature": False})
    assert (claims["aud"], claims["organization_id"]) == ("https://reports.api", org["id"])
    # Removing the app from the organization through the API stops the tokens.
    assert api.delete(f"/api/organizations/{org['id']}/applications/{app['id']}").status_code == HTTPStatus.NO_CONTENT
    assert token(organization_id=org["id"]).status_code == HTTPStatus.FORBIDDEN
    assert Organization.objects.count() == 1
