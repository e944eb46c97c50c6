"""Least-privilege Management API scopes: every route x {all, its own scope, another scope, no token},
and the writes that need ``all`` whatever the route's scope (no escalation)."""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.urls import URLPattern, resolve
from rest_framework.test import APIClient

from logto_m2m_django.keys import key_store
from logto_m2m_django.management_api.builtin import ensure_management_role
from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.management_api.urls import api_urlpatterns
from logto_m2m_django.models import (
    ApplicationSecret,
    M2MApplication,
    Organization,
    OrganizationMembership,
    OrganizationRole,
    OrganizationScope,
    Resource,
    Role,
    Scope,
    SigningKey,
    TokenActivity,
)
from logto_m2m_django.provisioning import add_secret, create_application

MGMT = "https://default.logto.app/api"
FORM = "application/x-www-form-urlencoded"


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token_response(client_id: str, secret: str, scope: str = "all", resource: str = MGMT) -> Any:
    body = urlencode({"grant_type": "client_credentials", "resource": resource, "scope": scope})
    return APIClient().post("/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=_basic(client_id, secret))


_numbers = itertools.count()


def management_role(*scopes: str) -> Role:
    """A role holding exactly ``scopes`` of the Management API resource (made here with the ORM)."""
    resource = ensure_management_role().scopes.get().resource
    role = Role.objects.create(name=f"Caller role {next(_numbers)}: {' '.join(scopes)}", description="d")
    role.scopes.add(*(Scope.objects.get_or_create(resource=resource, name=name)[0] for name in scopes))
    return role


def caller(*scopes: str) -> APIClient:
    """A client whose app holds exactly ``scopes`` of the Management API (it asks for ``all``, as Logto's SDK)."""
    m2m, secret = create_m2m_application(f"Caller {' '.join(scopes)}", roles=[management_role(*scopes)])
    response = token_response(m2m.client_id, secret)
    assert response.status_code == HTTPStatus.OK, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + response.json()["access_token"])
    return client


@dataclass
class World:
    """Something for every route to act on."""

    app: M2MApplication  # holds `role`; has the named secret "s1"
    legacy_app: M2MApplication  # still has DOT's own (legacy) secret
    resource: Resource
    scope: Scope
    role: Role  # holds `scope`, assigned to `app`
    free_role: Role  # holds nothing, assigned to nobody
    log: TokenActivity
    previous_key: str  # the kid of a Previous signing key
    org: Organization  # `app` is a member holding `org_role`
    org_role: OrganizationRole  # holds `org_scope` and the resource scope `scope`
    org_scope: OrganizationScope


@pytest.fixture
def world(db: Any) -> World:
    ensure_management_role()  # the management resource and its built-in scopes
    resource = Resource.objects.create(name="Shop", indicator="https://shop.api")
    scope = Scope.objects.create(resource=resource, name="read:products")
    role = Role.objects.create(name="Reader", description="Reads")
    role.scopes.add(scope)
    free_role = Role.objects.create(name="Free", description="Nothing yet")
    app, _ = create_m2m_application("Worker", roles=[role])
    add_secret(app, "s1", None)
    legacy_app, _ = create_application("Legacy")
    log = TokenActivity.objects.create(client_id=app.client_id, application=app, outcome="success", status_code=200)
    previous_key = key_store.signing_material().kid
    key_store.rotate()
    org = Organization.objects.create(name="Acme")
    org_scope = OrganizationScope.objects.create(name="read:reports")
    org_role = OrganizationRole.objects.create(name="Reporter", type="MachineToMachine")
    org_role.scopes.add(org_scope)
    org_role.resource_scopes.add(scope)
    OrganizationMembership.objects.create(organization=org, application=app).roles.add(org_role)
    return World(app, legacy_app, resource, scope, role, free_role, log, previous_key, org, org_role, org_scope)


# (method, path, the route's own scope, body, success status); paths are formatted with the World.
ROUTES: list[tuple[str, str, str, Any, int]] = [
    ("GET", "/api/applications", "read:applications", None, 200),
    ("POST", "/api/applications", "write:applications", {"name": "New", "type": "MachineToMachine"}, 200),
    ("GET", "/api/applications/{app}", "read:applications", None, 200),
    ("PATCH", "/api/applications/{app}", "write:applications", {"name": "Renamed"}, 200),
    ("DELETE", "/api/applications/{app}", "write:applications", None, 204),
    ("PATCH", "/api/applications/{app}/custom-data", "write:applications", {"plan": "pro"}, 200),
    ("GET", "/api/applications/{app}/roles", "read:applications", None, 200),
    ("POST", "/api/applications/{app}/roles", "write:role-assignments", {"roleIds": ["{free_role}"]}, 201),
    ("PUT", "/api/applications/{app}/roles", "write:role-assignments", {"roleIds": ["{free_role}"]}, 200),
    ("DELETE", "/api/applications/{app}/roles/{role}", "write:role-assignments", None, 204),
    ("GET", "/api/applications/{app}/secrets", "read:applications", None, 200),
    ("POST", "/api/applications/{app}/secrets", "write:application-secrets", {"name": "s2"}, 201),
    ("PATCH", "/api/applications/{app}/secrets/s1", "write:application-secrets", {"name": "s3"}, 200),
    ("DELETE", "/api/applications/{app}/secrets/s1", "write:application-secrets", None, 204),
    ("DELETE", "/api/applications/{legacy_app}/legacy-secret", "write:application-secrets", None, 200),
    ("GET", "/api/resources", "read:resources", None, 200),
    ("POST", "/api/resources", "write:resources", {"name": "Other", "indicator": "https://other.api"}, 201),
    ("GET", "/api/resources/{resource}", "read:resources", None, 200),
    ("PATCH", "/api/resources/{resource}", "write:resources", {"name": "Shop 2"}, 200),
    ("DELETE", "/api/resources/{resource}", "write:resources", None, 204),
    ("PATCH", "/api/resources/{resource}/is-default", "write:resources", {"isDefault": True}, 200),
    ("GET", "/api/resources/{resource}/scopes", "read:resources", None, 200),
    ("POST", "/api/resources/{resource}/scopes", "write:resources", {"name": "write:products"}, 201),
    ("PATCH", "/api/resources/{resource}/scopes/{scope}", "write:resources", {"description": "d"}, 200),
    ("DELETE", "/api/resources/{resource}/scopes/{scope}", "write:resources", None, 204),
    ("GET", "/api/roles", "read:roles", None, 200),
    ("POST", "/api/roles", "write:roles", {"name": "New role", "description": "d"}, 200),
    ("GET", "/api/roles/{role}", "read:roles", None, 200),
    ("PATCH", "/api/roles/{role}", "write:roles", {"description": "changed"}, 200),
    ("DELETE", "/api/roles/{role}", "write:roles", None, 204),
    ("GET", "/api/roles/{role}/scopes", "read:roles", None, 200),
    ("POST", "/api/roles/{free_role}/scopes", "write:roles", {"scopeIds": ["{scope}"]}, 201),
    ("DELETE", "/api/roles/{role}/scopes/{scope}", "write:roles", None, 204),
    ("GET", "/api/roles/{role}/applications", "read:roles", None, 200),
    ("POST", "/api/roles/{free_role}/applications", "write:role-assignments", {"applicationIds": ["{app}"]}, 201),
    ("DELETE", "/api/roles/{role}/applications/{app}", "write:role-assignments", None, 204),
    ("GET", "/api/logs", "read:logs", None, 200),
    ("GET", "/api/logs/{log}", "read:logs", None, 200),
    ("GET", "/api/configs/oidc/private-keys", "read:signing-keys", None, 200),
    ("POST", "/api/configs/oidc/private-keys/rotate", "write:signing-keys", {}, 200),
    ("DELETE", "/api/configs/oidc/private-keys/{previous_key}", "write:signing-keys", None, 204),
    ("GET", "/api/applications/{app}/organizations", "read:organizations", None, 200),
    ("GET", "/api/organizations", "read:organizations", None, 200),
    ("POST", "/api/organizations", "write:organizations", {"name": "Beta"}, 201),
    ("GET", "/api/organizations/{org}", "read:organizations", None, 200),
    ("PATCH", "/api/organizations/{org}", "write:organizations", {"name": "Acme 2"}, 200),
    ("DELETE", "/api/organizations/{org}", "write:organizations", None, 204),
    ("GET", "/api/organizations/{org}/applications", "read:organizations", None, 200),
    ("POST", "/api/organizations/{org}/applications", "write:organizations", {"applicationIds": ["{legacy_app}"]}, 201),
    ("PUT", "/api/organizations/{org}/applications", "write:organizations", {"applicationIds": ["{app}"]}, 204),
    ("DELETE", "/api/organizations/{org}/applications/{app}", "write:organizations", None, 204),
    (
        "POST",
        "/api/organizations/{org}/applications/roles",
        "write:organizations",
        {"applicationIds": ["{app}"], "organizationRoleIds": ["{org_role}"]},
        201,
    ),
    ("GET", "/api/organizations/{org}/applications/{app}/roles", "read:organizations", None, 200),
    (
        "POST",
        "/api/organizations/{org}/applications/{app}/roles",
        "write:organizations",
        {"organizationRoleIds": ["{org_role}"]},
        201,
    ),
    (
        "PUT",
        "/api/organizations/{org}/applications/{app}/roles",
        "write:organizations",
        {"organizationRoleIds": ["{org_role}"]},
        204,
    ),
    ("DELETE", "/api/organizations/{org}/applications/{app}/roles/{org_role}", "write:organizations", None, 204),
    ("GET", "/api/organization-roles", "read:organizations", None, 200),
    ("POST", "/api/organization-roles", "write:organizations", {"name": "Auditor"}, 201),
    ("GET", "/api/organization-roles/{org_role}", "read:organizations", None, 200),
    ("PATCH", "/api/organization-roles/{org_role}", "write:organizations", {"description": "d"}, 200),
    ("DELETE", "/api/organization-roles/{org_role}", "write:organizations", None, 204),
    ("GET", "/api/organization-roles/{org_role}/scopes", "read:organizations", None, 200),
    (
        "POST",
        "/api/organization-roles/{org_role}/scopes",
        "write:organizations",
        {"organizationScopeIds": ["{org_scope}"]},
        201,
    ),
    (
        "PUT",
        "/api/organization-roles/{org_role}/scopes",
        "write:organizations",
        {"organizationScopeIds": ["{org_scope}"]},
        204,
    ),
    ("DELETE", "/api/organization-roles/{org_role}/scopes/{org_scope}", "write:organizations", None, 204),
    ("GET", "/api/organization-roles/{org_role}/resource-scopes", "read:organizations", None, 200),
    (
        "POST",
        "/api/organization-roles/{org_role}/resource-scopes",
        "write:organizations",
        {"scopeIds": ["{scope}"]},
        201,
    ),
    (
        "PUT",
        "/api/organization-roles/{org_role}/resource-scopes",
        "write:organizations",
        {"scopeIds": ["{scope}"]},
        204,
    ),
    ("DELETE", "/api/organization-roles/{org_role}/resource-scopes/{scope}", "write:organizations", None, 204),
    ("GET", "/api/organization-scopes", "read:organizations", None, 200),
    ("POST", "/api/organization-scopes", "write:organizations", {"name": "write:reports"}, 201),
    ("GET", "/api/organization-scopes/{org_scope}", "read:organizations", None, 200),
    ("PATCH", "/api/organization-scopes/{org_scope}", "write:organizations", {"description": "d"}, 200),
    ("DELETE", "/api/organization-scopes/{org_scope}", "write:organizations", None, 204),
]

#: For each scope, a near miss: the other half of the pair, or a neighbour.
ANOTHER = {
    "read:applications": "write:applications",
    "write:applications": "read:applications",
    "write:application-secrets": "write:applications",
    "read:resources": "write:resources",
    "write:resources": "read:resources",
    "read:roles": "write:roles",
    "write:roles": "write:role-assignments",
    "write:role-assignments": "write:roles",
    "read:logs": "read:applications",
    "read:signing-keys": "write:signing-keys",
    "write:signing-keys": "read:signing-keys",
    "read:organizations": "write:organizations",
    "write:organizations": "read:organizations",
}


def _ids(world: World) -> dict[str, str]:
    return {
        "app": world.app.client_id,
        "legacy_app": world.legacy_app.client_id,
        "resource": world.resource.id,
        "scope": world.scope.id,
        "role": world.role.id,
        "free_role": world.free_role.id,
        "log": str(world.log.pk),
        "previous_key": world.previous_key,
        "org": world.org.pk,
        "org_role": world.org_role.pk,
        "org_scope": world.org_scope.pk,
    }


def _call(client: APIClient, world: World, method: str, path: str, body: Any) -> Any:
    ids = _ids(world)
    payload = json.dumps(_fill(body, ids)) if body is not None else ""
    return client.generic(method, path.format(**ids), payload, content_type="application/json")


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _route_id(route: tuple[str, str, str, Any, int]) -> str:
    return f"{route[0]} {route[1]}"


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_all_grants_the_route(world: World, route: tuple[str, str, str, Any, int]) -> None:
    method, path, _scope, body, status = route
    response = _call(caller("all"), world, method, path, body)
    assert response.status_code == status, response.content


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_the_routes_own_scope_grants_it(world: World, route: tuple[str, str, str, Any, int]) -> None:
    method, path, scope, body, status = route
    response = _call(caller(scope), world, method, path, body)
    assert response.status_code == status, response.content


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_another_scope_is_403_naming_the_routes_scope(world: World, route: tuple[str, str, str, Any, int]) -> None:
    method, path, scope, body, _status = route
    client = caller(ANOTHER[scope])
    before = _snapshot()
    response = _call(client, world, method, path, body)
    assert response.status_code == HTTPStatus.FORBIDDEN, response.content
    challenge = response["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and f'scope="{scope}"' in challenge
    assert response.json()["code"] == "auth.forbidden"
    assert _snapshot() == before  # nothing was written


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_no_token_is_401(world: World, route: tuple[str, str, str, Any, int]) -> None:
    method, path, _scope, body, _status = route
    response = _call(APIClient(), world, method, path, body)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("Bearer realm=")
    assert response.json()["code"] == "auth.authorization_header_missing"


def _snapshot() -> tuple[Any, ...]:
    return (
        sorted(SigningKey.objects.values_list("kid", "status")),
        M2MApplication.objects.count(),
        ApplicationSecret.objects.count(),
        Resource.objects.count(),
        Scope.objects.count(),
        Role.objects.count(),
        Role.scopes.through.objects.count(),
        M2MApplication.roles.through.objects.count(),
        Organization.objects.count(),
        OrganizationScope.objects.count(),
        OrganizationRole.objects.count(),
        OrganizationRole.scopes.through.objects.count(),
        OrganizationRole.resource_scopes.through.objects.count(),
        OrganizationMembership.objects.count(),
        OrganizationMembership.roles.through.objects.count(),
    )


def test_every_route_and_method_is_in_the_matrix() -> None:
    """A route added later without a row here (or without declaring its scopes) fails this test."""
    served = set()
    for pattern in api_urlpatterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        assert view.required_scopes_by_method, f"{view.__name__} declares no scopes"
        served |= {(m.upper(), view.__name__) for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
    keys = (
        "app",
        "legacy_app",
        "resource",
        "scope",
        "role",
        "free_role",
        "log",
        "previous_key",
        "org",
        "org_role",
        "org_scope",
    )
    dummy = dict.fromkeys(keys, "x")
    tested = {(method, resolve(path.format(**dummy)).func.view_class.__name__) for method, path, *_ in ROUTES}
    assert served == tested


def test_head_follows_get(world: World) -> None:
    assert caller("read:roles").head("/api/roles").status_code == HTTPStatus.OK
    response = caller("write:roles").head("/api/roles")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert 'scope="read:roles"' in response["WWW-Authenticate"]


def test_a_method_the_route_lacks_is_405_for_a_caller_holding_its_scope(world: World) -> None:
    assert caller("read:logs").delete("/api/logs").status_code == HTTPStatus.METHOD_NOT_ALLOWED


# -- the token: asking for `all` gets what the client holds ------------------------------------


def test_token_for_all_grants_only_the_management_scopes_the_client_holds(db: Any) -> None:
    m2m, secret = create_m2m_application("Narrow", roles=[management_role("read:applications", "read:logs")])
    response = token_response(m2m.client_id, secret, scope="all")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["scope"] == "read:applications read:logs"


def test_all_on_another_api_is_not_expanded(db: Any) -> None:
    resource = Resource.objects.create(name="Shop", indicator="https://shop.api")
    role = Role.objects.create(name="Reader", description="Reads")
    role.scopes.add(Scope.objects.create(resource=resource, name="read:products"))
    m2m, secret = create_m2m_application("Shop client", roles=[role])
    response = token_response(m2m.client_id, secret, scope="all", resource="https://shop.api")
    assert response.status_code == HTTPStatus.OK
    assert "scope" not in response.json()


def test_builtin_scopes_exist_on_the_management_resource(db: Any) -> None:
    from logto_m2m_django.management_api.builtin import BUILTIN_SCOPES

    ensure_management_role()
    names = set(Scope.objects.filter(resource__indicator=MGMT).values_list("name", flat=True))
    assert names == set(BUILTIN_SCOPES)
    assert {"read:organizations", "write:organizations"} <= names


def test_builtin_scopes_are_read_only_through_the_api(world: World) -> None:
    logs_scope = Scope.objects.get(resource__indicator=MGMT, name="read:logs")
    api = caller("all")
    response = api.delete(f"/api/resources/{logs_scope.resource_id}/scopes/{logs_scope.id}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert Scope.objects.filter(pk=logs_scope.pk).exists()


# -- bootstrap --scope --------------------------------------------------------------------------


def _bootstrap(*args: str) -> dict[str, Any]:
    from io import StringIO

    out = StringIO()
    call_command("m2m", "bootstrap", "--json", *args, stdout=out)
    return dict(json.loads(out.getvalue()))


def test_bootstrap_with_scopes_creates_a_client_holding_exactly_those(db: Any) -> None:
    data = _bootstrap("--scope", "read:applications", "--scope", "write:application-secrets", "--name", "CI")
    assert data["scope"] == "read:applications write:application-secrets"
    response = token_response(data["client_id"], data["client_secret"], scope="all")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["scope"] == "read:applications write:application-secrets"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer " + response.json()["access_token"])
    assert api.get("/api/applications").status_code == HTTPStatus.OK
    assert api.get("/api/roles").status_code == HTTPStatus.FORBIDDEN
    assert api.post("/api/resources", {"name": "x", "indicator": "https://x.api"}, format="json").status_code == 403


def test_bootstrap_reuses_the_role_of_a_scope_set(db: Any) -> None:
    _bootstrap("--scope", "read:logs", "--scope", "read:roles")
    _bootstrap("--scope", "read:roles", "--scope", "read:logs", "--scope", "read:logs")
    roles = Role.objects.filter(name__startswith="Management API: ")
    assert [role.name for role in roles] == ["Management API: read:logs read:roles"]
    assert roles[0].applications.count() == 2
    assert set(roles[0].scopes.values_list("name", flat=True)) == {"read:logs", "read:roles"}


def test_bootstrap_without_scope_holds_all(db: Any) -> None:
    data = _bootstrap()
    assert data["scope"] == "all"
    assert token_response(data["client_id"], data["client_secret"]).json()["scope"] == "all"


def test_bootstrap_refuses_an_unknown_scope(db: Any) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"unknown Management API scope 'read:everything'.*read:logs"):
        _bootstrap("--scope", "read:everything")
    assert M2MApplication.objects.count() == 0


def test_bootstrap_refuses_to_reuse_a_role_someone_changed(db: Any) -> None:
    from django.core.management.base import CommandError

    _bootstrap("--scope", "read:logs")
    role = Role.objects.get(name="Management API: read:logs")
    role.scopes.add(Scope.objects.get(resource__indicator=MGMT, name="all"))
    with pytest.raises(CommandError, match="does not hold exactly those scopes"):
        _bootstrap("--scope", "read:logs")
    assert M2MApplication.objects.count() == 1
