"""The Management API through Django's test client: every endpoint, status codes, bodies and headers."""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from oauth2_provider.models import get_application_model
from rest_framework.test import APIClient

from logto_m2m_django.management_api.builtin import ensure_management_role
from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.models import M2MApplication, Resource, Role, RoleType, Scope

MGMT = "https://default.logto.app/api"
FORM = "application/x-www-form-urlencoded"


def _token(client: APIClient, client_id: str, secret: str, resource: str = MGMT, scope: str = "all") -> str:
    body = {"grant_type": "client_credentials", "resource": resource, "scope": scope}
    response = client.post(
        "/oidc/token", urlencode(body), content_type=FORM, HTTP_AUTHORIZATION=_basic(client_id, secret)
    )
    assert response.status_code == HTTPStatus.OK, response.content
    return str(response.json()["access_token"])


def _basic(client_id: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def admin_app(db: Any) -> tuple[M2MApplication, str]:
    return create_m2m_application("Admin script", roles=[ensure_management_role()])


@pytest.fixture
def api(admin_app: tuple[M2MApplication, str]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + _token(client, admin_app[0].client_id, admin_app[1]))
    return client


def _post(api: APIClient, url: str, body: Any) -> Any:
    return api.post(url, body, format="json")


def _patch(api: APIClient, url: str, body: Any) -> Any:
    return api.patch(url, body, format="json")


def _resource(api: APIClient, indicator: str = "https://shop.api", name: str = "Shop") -> dict[str, Any]:
    response = _post(api, "/api/resources", {"name": name, "indicator": indicator})
    assert response.status_code == HTTPStatus.CREATED, response.content
    return dict(response.json())


def _scope(api: APIClient, resource_id: str, name: str) -> dict[str, Any]:
    response = _post(api, f"/api/resources/{resource_id}/scopes", {"name": name})
    assert response.status_code == HTTPStatus.CREATED, response.content
    return dict(response.json())


def _role(api: APIClient, name: str, **extra: Any) -> dict[str, Any]:
    response = _post(
        api, "/api/roles", {"name": name, "description": f"{name} role", "type": "MachineToMachine", **extra}
    )
    assert response.status_code == HTTPStatus.OK, response.content
    return dict(response.json())


def _app(api: APIClient, name: str) -> dict[str, Any]:
    response = _post(api, "/api/applications", {"name": name, "type": "MachineToMachine"})
    assert response.status_code == HTTPStatus.OK, response.content
    return dict(response.json())


# -- the guard -------------------------------------------------------------------


def test_no_token_is_401_with_bare_bearer_challenge(db: Any) -> None:
    response = APIClient().get("/api/applications")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "auth.authorization_header_missing"


def test_garbage_token_is_401_invalid_token(db: Any) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    response = client.get("/api/roles")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert set(response.json()) == {"code", "message"}


def test_token_for_another_api_is_401(shop: Any, access_token: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + access_token)
    response = client.get("/api/resources")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "aud" in response["WWW-Authenticate"]


def test_token_without_the_routes_scope_is_403_insufficient_scope(db: Any) -> None:
    ensure_management_role()
    weak_role = Role.objects.create(name="Nothing")
    app, secret = create_m2m_application("Weak", roles=[weak_role])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + _token(client, app.client_id, secret))
    response = client.get("/api/resources")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert (
        'error="insufficient_scope"' in response["WWW-Authenticate"]
        and 'scope="read:resources"' in response["WWW-Authenticate"]
    )
    assert response.json()["code"] == "auth.forbidden"


def test_indicator_setting_changes_the_audience(api: APIClient, settings: Any) -> None:
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "MANAGEMENT_API_INDICATOR": "https://other.example/api"}
    assert api.get("/api/roles").status_code == HTTPStatus.UNAUTHORIZED


# -- applications ----------------------------------------------------------------------


def test_create_application_returns_200_with_the_default_secret_once(api: APIClient) -> None:
    response = _post(
        api,
        "/api/applications",
        {
            "name": "Order stats",
            "type": "MachineToMachine",
            "description": "Stats",
            "customData": {"team": "ops"},
            "x": 1,
        },
    )
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["type"] == "MachineToMachine" and body["tenantId"] == "default"
    assert body["customData"] == {"team": "ops"} and body["description"] == "Stats"
    assert body["oidcClientMetadata"] == {"redirectUris": [], "postLogoutRedirectUris": []}
    assert body["protectedAppMetadata"] is None and body["isThirdParty"] is False
    assert isinstance(body["createdAt"], int) and abs(body["createdAt"] - time.time() * 1000) < 600_000
    assert len(body["id"]) == 21 and len(body["secret"]) >= 32
    # The secret is the app's "Default secret" and works at the token endpoint.
    _token(APIClient(), body["id"], body["secret"], resource=MGMT, scope="")
    # ... and is never shown again.
    again = api.get(f"/api/applications/{body['id']}").json()
    assert "secret" not in again and again["isAdmin"] is False
    secrets = api.get(f"/api/applications/{body['id']}/secrets").json()
    assert [s["name"] for s in secrets] == ["Default secret"] and "value" not in secrets[0]
    assert get_application_model().objects.get(client_id=body["id"]).client_secret == ""


@pytest.mark.parametrize("app_type", ["Native", "SPA", "Traditional", "Protected"])
def test_other_application_types_are_422(api: APIClient, app_type: str) -> None:
    response = _post(api, "/api/applications", {"name": "x", "type": app_type})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["code"] == "application.type_not_supported"
    assert "MachineToMachine" in response.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "type": "SAML"},
        {"name": "x", "type": "Robot"},
        {"name": "", "type": "MachineToMachine"},
        {"type": "MachineToMachine"},
        {"name": 5, "type": "MachineToMachine"},
        {"name": "x", "type": "MachineToMachine", "customData": []},
        {"name": "x\u0000y", "type": "MachineToMachine"},
        {"name": "x", "type": "MachineToMachine", "customData": {"k": "\u0000"}},
        ["not", "an", "object"],
    ],
)
def test_invalid_application_bodies_are_400(api: APIClient, body: Any) -> None:
    response = _post(api, "/api/applications", body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "guard.invalid_input"


def test_malformed_json_is_400(api: APIClient) -> None:
    response = api.post("/api/applications", b"{nope", content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "message" in response.json()


def test_list_applications_is_newest_first_and_filters(api: APIClient, admin_app: Any) -> None:
    first, second = _app(api, "First bot"), _app(api, "Second bot")
    response = api.get("/api/applications")
    assert response.status_code == HTTPStatus.OK and "Total-Number" not in response
    assert [a["id"] for a in response.json()] == [second["id"], first["id"], admin_app[0].client_id]
    assert api.get("/api/applications?types=SPA").json() == []
    assert len(api.get("/api/applications?types=SPA&types=MachineToMachine").json()) == 3
    assert api.get("/api/applications?types=Robot").status_code == HTTPStatus.BAD_REQUEST
    role = _role(api, "Reader")
    _post(api, f"/api/applications/{first['id']}/roles", {"roleIds": [role["id"]]})
    ids = [a["id"] for a in api.get(f"/api/applications?excludeRoleId={role['id']}").json()]
    assert first["id"] not in ids and second["id"] in ids
    both = api.get(f"/api/applications?excludeRoleId={role['id']}&excludeOrganizationId=o")
    assert both.status_code == HTTPStatus.BAD_REQUEST
    assert api.get("/api/applications?isThirdParty=true").json() == []
    assert len(api.get("/api/applications?isThirdParty=false").json()) == 3
    assert api.get("/api/applications?isThirdParty=maybe").status_code == HTTPStatus.BAD_REQUEST


def test_get_patch_delete_application(api: APIClient) -> None:
    app = _app(api, "Worker")
    assert api.get("/api/applications/nope").status_code == HTTPStatus.NOT_FOUND
    assert api.get("/api/applications/nope").json()["code"] == "entity.not_exists_with_id"
    response = _patch(
        api,
        f"/api/applications/{app['id']}",
        {"name": "Renamed", "description": None, "customData": {"a": 1}, "type": "SPA", "isThirdParty": True},
    )
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["name"] == "Renamed" and body["customData"] == {"a": 1} and body["description"] is None
    assert body["type"] == "MachineToMachine" and body["isThirdParty"] is False and "isAdmin" not in body
    assert _patch(api, f"/api/applications/{app['id']}", {"name": ""}).status_code == HTTPStatus.BAD_REQUEST
    assert _patch(api, f"/api/applications/{app['id']}", {"name": "x" * 256}).status_code == 422
    response = api.delete(f"/api/applications/{app['id']}")
    assert response.status_code == HTTPStatus.NO_CONTENT and response.content == b""
    assert api.delete(f"/api/applications/{app['id']}").status_code == HTTPStatus.NOT_FOUND
    assert not get_application_model().objects.filter(client_id=app["id"]).exists()


def test_is_admin_follows_the_management_role(api: APIClient) -> None:
    app = _app(api, "Future admin")
    assert _patch(api, f"/api/applications/{app['id']}", {"isAdmin": True}).status_code == HTTPStatus.OK
    assert api.get(f"/api/applications/{app['id']}").json()["isAdmin"] is True
    _patch(api, f"/api/applications/{app['id']}", {"isAdmin": False})
    assert api.get(f"/api/applications/{app['id']}").json()["isAdmin"] is False


# -- application roles ---------------------------------------------------------------


def test_application_roles_add_replace_remove(api: APIClient) -> None:
    app, a, b = _app(api, "Bot"), _role(api, "A"), _role(api, "B")
    url = f"/api/applications/{app['id']}/roles"
    response = _post(api, url, {"roleIds": [a["id"], a["id"]]})
    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {"roleIds": [a["id"]], "addedRoleIds": [a["id"]]}
    response = _post(api, url, {"roleIds": [a["id"], b["id"]]})
    assert response.json() == {"roleIds": [a["id"], b["id"]], "addedRoleIds": [b["id"]]}
    listed = api.get(url)
    assert [r["name"] for r in listed.json()] == ["A", "B"] and listed["Total-Number"] == "2"
    response = api.put(url, {"roleIds": [b["id"]]}, format="json")
    assert response.status_code == HTTPStatus.OK and response.content == b"" and response["Content-Length"] == "0"
    assert [r["id"] for r in api.get(url).json()] == [b["id"]]
    assert api.delete(f"{url}/{a['id']}").status_code == HTTPStatus.NOT_FOUND
    assert api.delete(f"{url}/{b['id']}").status_code == HTTPStatus.NO_CONTENT
    assert api.get(url).json() == []
    assert _post(api, url, {"roleIds": ["missing"]}).status_code == HTTPStatus.NOT_FOUND
    assert _post(api, url, {"roleIds": "nope"}).status_code == HTTPStatus.BAD_REQUEST
    assert _post(api, "/api/applications/missing/roles", {"roleIds": [a["id"]]}).status_code == HTTPStatus.NOT_FOUND


def test_user_roles_never_go_on_applications(api: APIClient) -> None:
    app = _app(api, "Bot")
    user_role = Role.objects.create(name="Editors", description="x", type=RoleType.USER)
    response = _post(api, f"/api/applications/{app['id']}/roles", {"roleIds": [user_role.id]})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["code"] == "application.invalid_role_type"
    response = _post(api, f"/api/roles/{user_role.id}/applications", {"applicationIds": [app["id"]]})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY


# -- application secrets -----------------------------------------------------------------


def test_secrets_create_rename_delete(api: APIClient) -> None:
    app = _app(api, "Bot")
    url = f"/api/applications/{app['id']}/secrets"
    expires = int(time.time() * 1000) + 3_600_000
    response = _post(api, url, {"name": "CI", "expiresAt": expires})
    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert body["name"] == "CI" and body["expiresAt"] == expires and body["applicationId"] == app["id"]
    _token(APIClient(), app["id"], body["value"], scope="")
    assert _post(api, url, {"name": "CI"}).json()["code"] == "application.secret_name_exists"
    assert _post(api, url, {"name": "old", "expiresAt": 1000}).status_code == HTTPStatus.BAD_REQUEST
    assert _post(api, url, {"name": "big", "expiresAt": 10**20}).status_code == HTTPStatus.BAD_REQUEST
    assert _post(api, url, {"name": "never", "expiresAt": None}).json()["expiresAt"] is None
    listed = api.get(url).json()
    assert [s["name"] for s in listed] == ["Default secret", "CI", "never"]
    assert all("value" not in s for s in listed)
    response = _patch(api, f"{url}/CI", {"name": "Deploy"})
    assert response.status_code == HTTPStatus.OK and response.json()["name"] == "Deploy"
    assert _patch(api, f"{url}/Deploy", {"name": "never"}).status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert _patch(api, f"{url}/missing", {"name": "x"}).status_code == HTTPStatus.NOT_FOUND
    assert api.delete(f"{url}/Default%20secret").status_code == HTTPStatus.NO_CONTENT
    assert api.delete(f"{url}/Default%20secret").status_code == HTTPStatus.NOT_FOUND
    assert api.get("/api/applications/missing/secrets").status_code == HTTPStatus.NOT_FOUND
    slashed = _post(api, url, {"name": "a/b\nc"})
    assert slashed.status_code == HTTPStatus.CREATED
    assert api.delete(f"{url}/a%2Fb%0Ac").status_code == HTTPStatus.NO_CONTENT


# The legacy secret's deletion (it revokes the value): tests/test_revocation.py.


# -- resources and scopes ---------------------------------------------------------


def test_resource_crud(api: APIClient) -> None:
    created = _resource(api)
    assert created["scopes"] == [] and created["accessTokenTtl"] == 3600 and created["isDefault"] is False
    dup = _post(api, "/api/resources", {"name": "Again", "indicator": "https://shop.api"})
    assert dup.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert dup.json()["code"] == "resource.resource_identifier_in_use"
    for bad in ({"name": "x", "indicator": "not a uri"}, {"name": "x"}, {"name": "x", "indicator": "https://a#b"}):
        assert _post(api, "/api/resources", bad).status_code == HTTPStatus.BAD_REQUEST
    assert (
        _post(api, "/api/resources", {"name": "x", "indicator": "https://t.api", "accessTokenTtl": 0}).status_code
        == 400
    )
    url = f"/api/resources/{created['id']}"
    assert api.get(url).json()["indicator"] == "https://shop.api"
    response = _patch(api, url, {"name": "Store", "accessTokenTtl": 60, "indicator": "https://changed.api"})
    assert response.status_code == HTTPStatus.OK
    assert response.json()["name"] == "Store" and response.json()["indicator"] == "https://shop.api"
    assert response.json()["accessTokenTtl"] == 60
    assert api.delete(url).status_code == HTTPStatus.NO_CONTENT
    assert api.get(url).status_code == HTTPStatus.NOT_FOUND


def test_resource_list_optional_pagination_and_scopes(api: APIClient) -> None:
    for n in range(3):
        _scope(api, _resource(api, f"https://r{n}.api", f"R{n}")["id"], "read")
    everything = api.get("/api/resources")
    assert "Total-Number" not in everything and len(everything.json()) == 4  # + the management API
    assert "scopes" not in everything.json()[0]
    with_scopes = api.get("/api/resources?includeScopes=true").json()
    assert {r["indicator"]: [s["name"] for s in r["scopes"]] for r in with_scopes}["https://r1.api"] == ["read"]
    page = api.get("/api/resources?page=2&page_size=3")
    assert page["Total-Number"] == "4" and len(page.json()) == 1
    assert 'rel="prev"' in page["Link"] and 'rel="next"' not in page["Link"] and 'rel="first"' in page["Link"]
    assert api.get("/api/resources?page_size=2")["Total-Number"] == "4"


@pytest.mark.parametrize("query", ["page=0", "page=x", "page_size=0", "page_size=101", "page=-1"])
def test_bad_pagination_is_400(api: APIClient, query: str) -> None:
    response = api.get(f"/api/roles?{query}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "guard.invalid_pagination"


def test_is_default_moves_the_flag(api: APIClient) -> None:
    a, b = _resource(api, "https://a.api", "A"), _resource(api, "https://b.api", "B")
    assert _patch(api, f"/api/resources/{a['id']}/is-default", {"isDefault": True}).json()["isDefault"] is True
    assert _patch(api, f"/api/resources/{b['id']}/is-default", {"isDefault": True}).status_code == HTTPStatus.OK
    assert list(Resource.objects.filter(is_default=True).values_list("id", flat=True)) == [b["id"]]
    assert _patch(api, f"/api/resources/{b['id']}/is-default", {"isDefault": "yes"}).status_code == 400
    assert _patch(api, "/api/resources/missing/is-default", {"isDefault": True}).status_code == 404


def test_management_resource_is_read_only(api: APIClient) -> None:
    management = Resource.objects.get(indicator=MGMT)
    scope = Scope.objects.get(resource=management, name="all")
    base = f"/api/resources/{management.id}"
    for response in (
        _patch(api, base, {"name": "Mine"}),
        api.delete(base),
        _patch(api, f"{base}/is-default", {"isDefault": True}),
        _post(api, f"{base}/scopes", {"name": "more"}),
        _patch(api, f"{base}/scopes/{scope.id}", {"name": "some"}),
        api.delete(f"{base}/scopes/{scope.id}"),
    ):
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert response.json()["code"] == "resource.cannot_modify_management_api"
    assert Scope.objects.filter(resource=management, name="all").exists()
    assert api.get(base).status_code == HTTPStatus.OK


def test_scopes_crud(api: APIClient) -> None:
    resource = _resource(api)
    url = f"/api/resources/{resource['id']}/scopes"
    read = _post(api, url, {"name": "read:products", "description": "Read"}).json()
    assert read["resourceId"] == resource["id"] and read["description"] == "Read"
    assert _post(api, url, {"name": "read:products"}).json()["code"] == "scope.name_exists"
    spaced = _post(api, url, {"name": "read products"})
    assert spaced.status_code == HTTPStatus.BAD_REQUEST and spaced.json()["code"] == "scope.name_with_space"
    assert _post(api, url, {"name": 'quote"d'}).status_code == HTTPStatus.BAD_REQUEST
    assert _post(api, "/api/resources/missing/scopes", {"name": "x"}).status_code == HTTPStatus.NOT_FOUND
    write = _scope(api, resource["id"], "write:products")
    listed = api.get(url)
    assert listed["Total-Number"] == "2" and [s["name"] for s in listed.json()] == ["read:products", "write:products"]
    assert _patch(api, f"{url}/{write['id']}", {"name": "read:products"}).status_code == 422
    same = _patch(api, f"{url}/{read['id']}", {"name": "read:products", "description": None})
    assert same.status_code == HTTPStatus.OK and same.json()["description"] is None
    assert api.delete(f"{url}/{write['id']}").status_code == HTTPStatus.NO_CONTENT
    assert api.delete(f"{url}/{write['id']}").status_code == HTTPStatus.NOT_FOUND


# -- roles -------------------------------------------------------------------------


def test_role_create_is_200_and_user_roles_are_refused(api: APIClient) -> None:
    resource = _resource(api)
    scope = _scope(api, resource["id"], "read")
    role = _role(api, "Reader", scopeIds=[scope["id"]])
    assert role["type"] == "MachineToMachine" and role["isDefault"] is False
    assert [s["id"] for s in api.get(f"/api/roles/{role['id']}/scopes").json()] == [scope["id"]]
    untyped = _post(api, "/api/roles", {"name": "No type", "description": "d"})
    assert untyped.status_code == HTTPStatus.OK and untyped.json()["type"] == "MachineToMachine"
    user = _post(api, "/api/roles", {"name": "Users", "description": "d", "type": "User"})
    assert user.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert user.json()["code"] == "role.type_not_supported" and "MachineToMachine" in user.json()["message"]
    assert not Role.objects.filter(name="Users").exists()
    dup = _post(api, "/api/roles", {"name": "Reader", "description": "d"})
    assert dup.status_code == HTTPStatus.UNPROCESSABLE_ENTITY and dup.json()["code"] == "role.name_in_use"
    assert _post(api, "/api/roles", {"name": "x", "description": "d", "scopeIds": ["nope"]}).status_code == 404
    assert _post(api, "/api/roles", {"name": "x"}).status_code == HTTPStatus.BAD_REQUEST
    assert not Role.objects.filter(name="x").exists()


def test_role_list_counts_and_filters(api: APIClient, admin_app: Any) -> None:
    reader = _role(api, "Reader")
    Role.objects.create(name="#internal:hidden", description="x")
    for n in range(4):
        app = _app(api, f"Bot {n}")
        _post(api, f"/api/roles/{reader['id']}/applications", {"applicationIds": [app["id"]]})
    response = api.get("/api/roles")
    assert response.status_code == HTTPStatus.OK and response["Total-Number"] == "2"
    by_name = {r["name"]: r for r in response.json()}
    assert set(by_name) == {"Reader", "Management API access"}
    assert by_name["Reader"]["applicationsCount"] == 4 and len(by_name["Reader"]["featuredApplications"]) == 3
    assert by_name["Reader"]["usersCount"] == 0 and by_name["Reader"]["featuredUsers"] == []
    assert api.get("/api/roles?type=User").json() == []
    assert api.get("/api/roles?type=Admin").status_code == HTTPStatus.BAD_REQUEST
    excluded = api.get(f"/api/roles?excludeApplicationId={admin_app[0].client_id}").json()
    assert [r["name"] for r in excluded] == ["Reader"]


def test_role_get_patch_delete(api: APIClient) -> None:
    role, other = _role(api, "Reader"), _role(api, "Writer")
    url = f"/api/roles/{role['id']}"
    assert api.get(url).json() == role
    response = _patch(api, url, {"name": "Viewer", "description": "Views", "isDefault": True, "type": "User"})
    assert response.status_code == HTTPStatus.OK
    assert response.json()["name"] == "Viewer" and response.json()["type"] == "MachineToMachine"
    assert _patch(api, url, {"name": other["name"]}).json()["code"] == "role.name_in_use"
    assert _patch(api, url, {"name": "Viewer"}).status_code == HTTPStatus.OK
    assert api.delete(url).status_code == HTTPStatus.NO_CONTENT
    assert api.get(url).status_code == HTTPStatus.NOT_FOUND


def test_role_scopes(api: APIClient) -> None:
    resource = _resource(api)
    read, write = _scope(api, resource["id"], "read"), _scope(api, resource["id"], "write")
    role = _role(api, "Reader")
    url = f"/api/roles/{role['id']}/scopes"
    response = _post(api, url, {"scopeIds": [read["id"]]})
    assert response.status_code == HTTPStatus.CREATED and [s["id"] for s in response.json()] == [read["id"]]
    response = _post(api, url, {"scopeIds": [write["id"]]})
    assert [s["id"] for s in response.json()] == [read["id"], write["id"]]  # all linked scopes
    again = _post(api, url, {"scopeIds": [read["id"]]})
    assert again.status_code == HTTPStatus.UNPROCESSABLE_ENTITY and again.json()["code"] == "role.scope_exists"
    assert _post(api, url, {"scopeIds": []}).status_code == HTTPStatus.BAD_REQUEST
    assert _post(api, url, {"scopeIds": ["nope"]}).status_code == HTTPStatus.NOT_FOUND
    listed = api.get(url)
    assert "Total-Number" not in listed and listed.json()[0]["resource"]["indicator"] == "https://shop.api"
    assert api.get(f"{url}?page=1&page_size=1")["Total-Number"] == "2"
    assert api.delete(f"{url}/{read['id']}").status_code == HTTPStatus.NO_CONTENT
    assert api.delete(f"{url}/{read['id']}").status_code == HTTPStatus.NOT_FOUND
    assert api.get("/api/roles/missing/scopes").status_code == HTTPStatus.NOT_FOUND


def test_role_applications(api: APIClient) -> None:
    role, app = _role(api, "Reader"), _app(api, "Bot")
    url = f"/api/roles/{role['id']}/applications"
    response = _post(api, url, {"applicationIds": [app["id"]]})
    assert response.status_code == HTTPStatus.CREATED and response.content == b"" and response["Content-Length"] == "0"
    again = _post(api, url, {"applicationIds": [app["id"]]})
    assert again.status_code == HTTPStatus.UNPROCESSABLE_ENTITY and again.json()["code"] == "role.application_exists"
    assert _post(api, url, {"applicationIds": ["missing"]}).status_code == HTTPStatus.NOT_FOUND
    assert _post(api, url, {"applicationIds": []}).status_code == HTTPStatus.BAD_REQUEST
    listed = api.get(url)
    assert [a["id"] for a in listed.json()] == [app["id"]] and listed["Total-Number"] == "1"
    assert api.delete(f"{url}/{app['id']}").status_code == HTTPStatus.NO_CONTENT
    assert api.delete(f"{url}/{app['id']}").status_code == HTTPStatus.NOT_FOUND


def test_granted_role_reaches_the_token(api: APIClient) -> None:
    resource = _resource(api)
    scope = _scope(api, resource["id"], "read:products")
    role = _role(api, "Reader", scopeIds=[scope["id"]])
    app = _post(api, "/api/applications", {"name": "Bot", "type": "MachineToMachine"}).json()
    _post(api, f"/api/roles/{role['id']}/applications", {"applicationIds": [app["id"]]})
    client = APIClient()
    body = {"grant_type": "client_credentials", "resource": "https://shop.api", "scope": "read:products"}
    response = client.post(
        "/oidc/token", urlencode(body), content_type=FORM, HTTP_AUTHORIZATION=_basic(app["id"], app["secret"])
    )
    assert response.json()["scope"] == "read:products"


# -- search ------------------------------------------------------------------------


def test_search_like_exact_and_fields(api: APIClient) -> None:
    for name in ("Order bot", "order stats", "Billing"):
        _role(api, name)
    names = lambda q: sorted(r["name"] for r in api.get(f"/api/roles?{q}").json())  # noqa: E731
    assert names("search=%25bot%25") == ["Order bot"]
    assert names("search=order%25") == ["Order bot", "order stats"]
    assert names("search=order%25&isCaseSensitive=true") == ["order stats"]
    assert names("search.name=Billing&mode=exact") == ["Billing"]
    assert names("search.name=billin_") == ["Billing"]
    assert names("search_params%5Bsearch%5D=%25stats") == ["order stats"]
    assert names("search.name=Billing&search.description=Order%25&joint=and") == []
    assert names("search.name=Billing&search.description=Order%25") == ["Billing", "Order bot", "order stats"]
    assert names("search=100%5C%25") == []


@pytest.mark.parametrize(
    "query",
    [
        "search=x&mode=posix",
        "search=x&mode=similar_to",
        "search=x&mode=fuzzy",
        "search.color=x",
        "joint=xor",
        "isCaseSensitive=1",
    ],
)
def test_unsupported_search_is_400(api: APIClient, query: str) -> None:
    response = api.get(f"/api/roles?{query}")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "request.invalid_input"


def test_nul_in_the_url_is_400(api: APIClient) -> None:
    assert api.get("/api/roles?excludeApplicationId=a%00b").status_code == HTTPStatus.BAD_REQUEST
    response = api.get("/api/roles/a%00b")
    assert response.status_code == HTTPStatus.BAD_REQUEST  # refused before any lookup, like the query string
    assert response.json()["code"] == "guard.invalid_input"


# -- bootstrap and schema -----------------------------------------------------------


def test_bootstrap_twice_makes_two_apps_and_one_role(db: Any, capsys: Any) -> None:
    import json

    call_command("m2m", "bootstrap", "--json")
    first = json.loads(capsys.readouterr().out)
    call_command("m2m", "bootstrap", "--name", "Second")
    text = capsys.readouterr().out
    assert "App secret:" in text
    assert set(first) >= {"client_id", "client_secret", "resource", "scope", "token_endpoint"}
    assert first["resource"] == MGMT and first["scope"] == "all"
    assert first["token_endpoint"] == "https://auth.example.com/oidc/token"
    assert Resource.objects.filter(indicator=MGMT).count() == 1
    assert Role.objects.filter(name="Management API access").count() == 1
    assert M2MApplication.objects.filter(roles__name="Management API access").count() == 2
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + _token(client, first["client_id"], first["client_secret"]))
    assert client.get("/api/applications").status_code == HTTPStatus.OK


def test_openapi_schema_declares_client_credentials(db: Any) -> None:
    response = APIClient().get("/api/openapi.json")
    assert response.status_code == HTTPStatus.OK
    import json

    schema = json.loads(response.content)
    flows = schema["components"]["securitySchemes"]["clientCredentials"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "https://auth.example.com/oidc/token"
    assert "all" in flows["clientCredentials"]["scopes"]
    assert "/api/applications/{application_id}/roles" in schema["paths"]
    assert "/oidc/token" in schema["paths"]
    assert schema["paths"]["/api/roles"]["post"]["security"] == [
        {"clientCredentials": ["write:roles"]},
        {"clientCredentials": ["all"]},
    ]
    assert "/api/openapi.json" not in schema["paths"]


def test_swagger_ui_page_works_offline(db: Any) -> None:
    from django.contrib.staticfiles import finders

    response = APIClient().get("/api/docs")
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert '"tokenUrl": "https://auth.example.com/oidc/token"' in html
    assert '"resource": "https://default.logto.app/api"' in html and '"schemaUrl": "/api/openapi.json"' in html
