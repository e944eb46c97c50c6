"""End to end: the token endpoint's organization cases over real HTTP, as Logto's integration tests run them.

Ported from Logto's ``packages/integration-tests/src/tests/api/oidc/client-credentials-grant.test.ts``
(the "general failed cases", "resource server" and "organization token" blocks): a fresh M2M app, set up
through the Management API (organizations, their scopes and roles, members), then ``POST /oidc/token`` with
the credentials in the form body, tokens verified with PyJWT against the published JWKS. The example
project runs under gunicorn with two workers, so setup, issuing and checking land on different processes.

Two deliberate differences, both documented: when nothing is granted, the response has no ``scope``
member and the token no ``scope`` claim (DESIGN §3; Logto answers ``scope: ""`` for an organization token),
and an unknown client is 401 ``invalid_client`` (Logto: 400).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import jwt
import pytest
import requests

pytest.importorskip("gunicorn", reason="the end-to-end tests serve the example project with gunicorn")

from .e2e_support import ExampleServer, example_server, manage

pytestmark = pytest.mark.e2e

TIMEOUT = 10
MGMT = "https://default.logto.app/api"
URN = "urn:logto:organization:"


def random_string() -> str:
    return secrets.token_hex(4)


@dataclass
class Api:
    """The Management API over HTTP with a bootstrap client's token (Logto's ``authedAdminApi``)."""

    server: ExampleServer
    session: requests.Session

    def call(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        response = self.session.request(method, self.server.url(f"/api{path}"), json=body, timeout=TIMEOUT)
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def create_resource(self) -> dict[str, Any]:
        name = f"api-{random_string()}"
        return dict(self.call("POST", "/resources", {"name": name, "indicator": f"https://{name}.test"}, 201))

    def create_scope(self, resource_id: str, name: str) -> dict[str, Any]:
        return dict(self.call("POST", f"/resources/{resource_id}/scopes", {"name": name}, 201))

    def create_organization(self) -> dict[str, Any]:
        return dict(self.call("POST", "/organizations", {"name": "test-organization"}, 201))

    def add_member(self, organization_id: str, app_id: str) -> None:
        self.call("POST", f"/organizations/{organization_id}/applications", {"applicationIds": [app_id]}, 201)

    def create_organization_role(self, **ids: list[str]) -> dict[str, Any]:
        body = {"name": f"cc-{random_string()}", "type": "MachineToMachine", **ids}
        return dict(self.call("POST", "/organization-roles", body, 201))

    def add_application_roles(self, organization_id: str, app_id: str, role_ids: list[str]) -> None:
        path = f"/organizations/{organization_id}/applications/{app_id}/roles"
        self.call("POST", path, {"organizationRoleIds": role_ids}, 201)


@dataclass
class Client:
    """A fresh M2M application (Logto's ``createApplicationWithSecret``)."""

    id: str
    secret: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleServer]:
    with example_server(tmp_path_factory.mktemp("e2e-orgs")) as running:
        yield running


@pytest.fixture(scope="module")
def api(server: ExampleServer) -> Api:
    # The CLI in another process, against the server's database.
    bootstrap = json.loads(manage(server.env, "m2m", "bootstrap", "--json").strip().splitlines()[-1])
    response = requests.post(
        server.url("/oidc/token"),
        data={"grant_type": "client_credentials", "resource": MGMT, "scope": "all"},
        auth=(bootstrap["client_id"], bootstrap["client_secret"]),
        timeout=TIMEOUT,
    )
    assert response.status_code == HTTPStatus.OK, response.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return Api(server, session)


@pytest.fixture
def client(api: Api) -> Iterator[Client]:
    body = api.call(
        "POST",
        "/applications",
        {"name": "client credentials test", "description": "d", "type": "MachineToMachine"},
        200,
    )
    yield Client(body["id"], body["secret"])
    api.call("DELETE", f"/applications/{body['id']}", expect=204)


def post(server: ExampleServer, client: Client, **params: str) -> requests.Response:
    body = {"client_id": client.id, "client_secret": client.secret, "grant_type": "client_credentials", **params}
    return requests.post(server.url("/oidc/token"), data=body, timeout=TIMEOUT)


def expect_error(response: requests.Response, status: int, error: str, description: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert "access_token" not in body
    if description is not None:
        assert body["error_description"] == description


def verify(server: ExampleServer, token: str, audience: str) -> dict[str, Any]:
    """jose's ``jwtVerify(token, createRemoteJWKSet(.../oidc/jwks), {audience})``, with PyJWT."""
    key = jwt.PyJWKClient(server.url("/oidc/jwks"), cache_keys=False, timeout=TIMEOUT).get_signing_key_from_jwt(token)
    header = jwt.get_unverified_header(token)
    return dict(jwt.decode(token, key, algorithms=[header["alg"]], audience=audience, issuer=server.issuer))


# -- general failed cases -----------------------------------------------------------------------------


def test_fails_if_the_client_is_not_found(server: ExampleServer) -> None:
    # Logto: 400; here 401, as README's "Token endpoint errors" documents (RFC 6749 §5.2 allows either).
    expect_error(post(server, Client("not-found", "not-found")), 401, "invalid_client")


def test_fails_if_parameters_are_missing(server: ExampleServer, client: Client) -> None:
    # Logto: "both `resource` and `organization_id` are not provided" (no default resource here either).
    expect_error(post(server, client), 400, "invalid_target")


# -- resource server ----------------------------------------------------------------------------------


def test_fails_if_the_resource_server_is_not_found(server: ExampleServer, client: Client) -> None:
    expect_error(post(server, client, resource="https://not-found"), 400, "invalid_target")


def test_a_token_for_a_resource_server(server: ExampleServer, api: Api, client: Client) -> None:
    resource = api.create_resource()
    response = post(server, client, resource=resource["indicator"])
    assert response.status_code == HTTPStatus.OK, response.text
    assert "scope" not in response.json()
    assert "scope" not in verify(server, response.json()["access_token"], resource["indicator"])


def test_a_token_for_a_resource_server_with_valid_scope(server: ExampleServer, api: Api, client: Client) -> None:
    resource = api.create_resource()
    scope = api.create_scope(resource["id"], "test-scope")
    role = api.call(
        "POST", "/roles", {"name": f"cc-{random_string()}", "description": "d", "type": "MachineToMachine"}, 200
    )
    api.call("POST", f"/roles/{role['id']}/scopes", {"scopeIds": [scope["id"]]}, 201)
    api.call("POST", f"/applications/{client.id}/roles", {"roleIds": [role["id"]]}, 201)
    response = post(server, client, resource=resource["indicator"], scope=f"{scope['name']} {random_string()}")
    assert response.status_code == HTTPStatus.OK, response.text
    assert response.json()["scope"] == scope["name"]
    assert verify(server, response.json()["access_token"], resource["indicator"])["scope"] == scope["name"]
    api.call("DELETE", f"/roles/{role['id']}", expect=204)


def test_falls_back_to_the_default_resource_server(server: ExampleServer, api: Api, client: Client) -> None:
    resource = api.create_resource()
    api.call("PATCH", f"/resources/{resource['id']}/is-default", {"isDefault": True}, 200)
    try:
        response = post(server, client)
        assert response.status_code == HTTPStatus.OK, response.text
        assert "scope" not in response.json()
        assert "scope" not in verify(server, response.json()["access_token"], resource["indicator"])
    finally:
        api.call("PATCH", f"/resources/{resource['id']}/is-default", {"isDefault": False}, 200)


# -- organization token -------------------------------------------------------------------------------


def test_fails_if_the_app_is_not_associated_with_the_organization(server: ExampleServer, client: Client) -> None:
    response = post(server, client, organization_id="not-found")
    expect_error(response, 403, "access_denied", "app has not associated with the organization")


def test_an_organization_token(server: ExampleServer, api: Api, client: Client) -> None:
    organization = api.create_organization()
    api.add_member(organization["id"], client.id)
    response = post(server, client, organization_id=organization["id"])
    assert response.status_code == HTTPStatus.OK, response.text
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}  # Logto adds scope: "" (see above)
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    claims = verify(server, body["access_token"], URN + organization["id"])
    assert claims["aud"] == URN + organization["id"]
    assert "scope" not in claims and "organization_id" not in claims


def test_an_organization_token_with_valid_scope(server: ExampleServer, api: Api, client: Client) -> None:
    organization = api.create_organization()
    api.add_member(organization["id"], client.id)
    scope = api.call("POST", "/organization-scopes", {"name": f"test-scope-{random_string()}"}, 201)
    role = api.create_organization_role(organizationScopeIds=[scope["id"]])
    api.add_application_roles(organization["id"], client.id, [role["id"]])
    response = post(server, client, organization_id=organization["id"], scope=f"{scope['name']} {random_string()}")
    assert response.status_code == HTTPStatus.OK, response.text
    assert response.json()["scope"] == scope["name"]
    assert verify(server, response.json()["access_token"], URN + organization["id"])["scope"] == scope["name"]


def test_an_organization_token_with_valid_scope_and_resource(server: ExampleServer, api: Api, client: Client) -> None:
    organization = api.create_organization()
    api.add_member(organization["id"], client.id)
    resource = api.create_resource()
    scope1, scope2, scope3 = (api.create_scope(resource["id"], f"test-scope-{random_string()}") for _ in range(3))
    role = api.create_organization_role(resourceScopeIds=[scope1["id"], scope2["id"]])
    api.add_application_roles(organization["id"], client.id, [role["id"]])
    requested = f"{scope1['name']} {scope2['name']} {scope3['name']} {random_string()}"
    response = post(server, client, organization_id=organization["id"], resource=resource["indicator"], scope=requested)
    assert response.status_code == HTTPStatus.OK, response.text
    assert response.json()["scope"] == f"{scope1['name']} {scope2['name']}"
    claims = verify(server, response.json()["access_token"], resource["indicator"])
    assert claims["organization_id"] == organization["id"]
    assert claims["scope"] == f"{scope1['name']} {scope2['name']}"


def test_only_requested_scopes_are_issued(server: ExampleServer, api: Api, client: Client) -> None:
    organization = api.create_organization()
    api.add_member(organization["id"], client.id)
    resource = api.create_resource()
    scope1, scope2 = (api.create_scope(resource["id"], f"test-scope-{random_string()}") for _ in range(2))
    role = api.create_organization_role(resourceScopeIds=[scope1["id"], scope2["id"]])
    api.add_application_roles(organization["id"], client.id, [role["id"]])
    first = post(
        server, client, organization_id=organization["id"], resource=resource["indicator"], scope=scope1["name"]
    )
    assert first.status_code == HTTPStatus.OK, first.text
    assert first.json()["scope"] == scope1["name"]
    claims = verify(server, first.json()["access_token"], resource["indicator"])
    assert claims["organization_id"] == organization["id"] and claims["scope"] == scope1["name"]
    second = post(server, client, organization_id=organization["id"], resource=resource["indicator"], scope="")
    assert second.status_code == HTTPStatus.OK, second.text
    assert "scope" not in second.json()
    claims = verify(server, second.json()["access_token"], resource["indicator"])
    assert claims["organization_id"] == organization["id"] and "scope" not in claims


# -- beyond Logto's suite: the security cases, over HTTP --------------------------------------


def test_a_non_member_asking_with_a_resource_never_gets_a_global_token(
    server: ExampleServer, api: Api, client: Client
) -> None:
    organization = api.create_organization()
    resource = api.create_resource()
    scope = api.create_scope(resource["id"], "read:things")
    role = api.call(
        "POST", "/roles", {"name": f"cc-{random_string()}", "description": "d", "type": "MachineToMachine"}, 200
    )
    api.call("POST", f"/roles/{role['id']}/scopes", {"scopeIds": [scope["id"]]}, 201)
    api.call("POST", f"/applications/{client.id}/roles", {"roleIds": [role["id"]]}, 201)
    response = post(
        server, client, organization_id=organization["id"], resource=resource["indicator"], scope="read:things"
    )
    expect_error(response, 403, "access_denied")
    api.add_member(organization["id"], client.id)  # a member now, but its global role does not count inside
    response = post(
        server, client, organization_id=organization["id"], resource=resource["indicator"], scope="read:things"
    )
    assert response.status_code == HTTPStatus.OK and "scope" not in response.json()
    api.call("DELETE", f"/roles/{role['id']}", expect=204)


def test_repeated_organization_id_is_400(server: ExampleServer, api: Api, client: Client) -> None:
    organization = api.create_organization()
    api.add_member(organization["id"], client.id)
    body = [
        ("client_id", client.id),
        ("client_secret", client.secret),
        ("grant_type", "client_credentials"),
        ("organization_id", organization["id"]),
        ("organization_id", organization["id"]),
    ]
    expect_error(requests.post(server.url("/oidc/token"), data=body, timeout=TIMEOUT), 400, "invalid_request")


def test_the_example_tenant_endpoint(server: ExampleServer, api: Api) -> None:
    """The README's quick start: the demo app reads reports of its own organization only."""
    organization, other = api.create_organization(), api.create_organization()
    resources = api.call("GET", "/resources?includeScopes=true", expect=200)
    shop = next(r for r in resources if r["indicator"] == "https://shopping.api")
    read = next(s for s in shop["scopes"] if s["name"] == "read:products")
    role = api.create_organization_role(resourceScopeIds=[read["id"]])
    api.add_member(organization["id"], server.client_id)
    api.add_application_roles(organization["id"], server.client_id, [role["id"]])
    demo = Client(server.client_id, server.client_secret)
    token = post(
        server, demo, organization_id=organization["id"], resource="https://shopping.api", scope="read:products"
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    mine = requests.get(server.url(f"/orgs/{organization['id']}/reports"), headers=headers, timeout=TIMEOUT)
    assert mine.status_code == HTTPStatus.OK, mine.text
    theirs = requests.get(server.url(f"/orgs/{other['id']}/reports"), headers=headers, timeout=TIMEOUT)
    assert theirs.status_code == HTTPStatus.FORBIDDEN
    plain = post(server, demo, resource="https://shopping.api", scope="read:products").json()["access_token"]
    response = requests.get(
        server.url(f"/orgs/{organization['id']}/reports"), headers={"Authorization": f"Bearer {plain}"}, timeout=10
    )
    assert response.status_code == HTTPStatus.FORBIDDEN  # a global token is no organization's


def test_organizations_are_no_way_into_the_management_api(server: ExampleServer, api: Api, client: Client) -> None:
    resources = api.call("GET", "/resources?includeScopes=true", expect=200)
    everything = next(s for r in resources if r["indicator"] == MGMT for s in r["scopes"] if s["name"] == "all")
    response = api.session.post(
        server.url("/api/organization-roles"),
        json={"name": f"cc-{random_string()}", "resourceScopeIds": [everything["id"]]},
        timeout=TIMEOUT,
    )
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY, response.text
    organization = api.create_organization()
    api.add_member(organization["id"], client.id)
    response = post(server, client, organization_id=organization["id"], resource=MGMT, scope="all")
    expect_error(response, 400, "invalid_target")
