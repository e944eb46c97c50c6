"""Logto's own Management API SDK (@logto/api, from npm) against the example project under gunicorn."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "node"
MANAGEMENT_INDICATOR = "https://default.logto.app/api"

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _project_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'sdk.sqlite3'}",
        LOGTO_M2M_ISSUER=f"http://127.0.0.1:{port}/oidc",
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def node_modules() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are needed to run Logto's @logto/api SDK")
    if not (NODE_DIR / "node_modules" / "@logto" / "api").is_dir():
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            pytest.skip(f"npm install of @logto/api failed (no registry access?): {result.stderr.strip()[-300:]}")
    return NODE_DIR / "node_modules"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    env = _project_env(tmp_path, port)
    _manage(env, "migrate", "--noinput", "-v0")
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "example_project.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "-t", "60"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/oidc/jwks", timeout=2)
                break
            except (requests.ConnectionError, requests.Timeout) as exc:  # a loaded machine starts slowly
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read() if process.stderr else ""
                    raise RuntimeError(f"gunicorn did not start: {stderr}") from exc
                time.sleep(0.2)
        yield base, env
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_logto_sdk_manages_resources_roles_and_apps(node_modules: Path, server: tuple[str, dict[str, str]]) -> None:
    base, env = server
    credentials = json.loads(_manage(env, "m2m", "bootstrap", "--json", "--name", "SDK driver"))
    out, stderr = _run_node("sdk_roundtrip.mjs", base, credentials)
    assert "is not equal to the expected value" not in stderr  # the token carried scope=all

    resource, scope, role, app = (
        out[k]["data"] for k in ("createResource", "createScope", "createRole", "createApplication")
    )
    assert out["createResource"]["status"] == HTTPStatus.CREATED
    assert resource["indicator"] == "https://sdk-shop.api" and resource["scopes"] == []
    assert out["createScope"]["status"] == HTTPStatus.CREATED and scope["resourceId"] == resource["id"]
    assert out["createRole"]["status"] == HTTPStatus.OK and role["type"] == "MachineToMachine"
    assert out["createApplication"]["status"] == HTTPStatus.OK and app["type"] == "MachineToMachine"
    assert out["assignRole"]["status"] == HTTPStatus.CREATED
    assert out["assignRole"]["data"] == {"roleIds": [role["id"]], "addedRoleIds": [role["id"]]}
    # Empty success bodies (PUT 200, DELETE 204) were not parsed as JSON by the SDK.
    assert out["replaceRoles"]["status"] == HTTPStatus.OK
    assert out["deleteRoleLink"]["status"] == HTTPStatus.NO_CONTENT

    listed = {r["indicator"]: r for r in out["listResources"]["data"]}
    assert [s["name"] for s in listed["https://sdk-shop.api"]["scopes"]] == ["read:orders"]
    assert MANAGEMENT_INDICATOR in listed
    assert [s["id"] for s in out["listScopes"]["data"]] == [scope["id"]]
    assert [r["name"] for r in out["listRoles"]["data"]] == ["SDK reader"]
    assert {a["name"] for a in out["listApplications"]["data"]} == {"SDK driver", "SDK app"}
    assert [r["id"] for r in out["listApplicationRoles"]["data"]] == [role["id"]]
    assert [a["id"] for a in out["listRoleApplications"]["data"]] == [app["id"]]
    assert [s["name"] for s in out["listSecrets"]["data"]] == ["Default secret"]

    # Logs: the driver's own token request, in Logto's audit-log shape, read through the SDK.
    [log] = out["listLogs"]["data"]
    assert log["key"] == "ExchangeTokenBy.ClientCredentials"
    assert log["payload"]["applicationId"] == credentials["client_id"]
    assert log["payload"]["applicationSecret"] == {"name": "Default secret"}
    assert log["payload"]["result"] == "Success" and log["payload"]["scope"] == "all"
    assert log["payload"]["userAgent"]  # whatever Node's fetch sends, recorded
    assert out["getLog"]["data"] == log

    # Signing keys: listed, rotated at once (RSA), staged with a grace period (EC), the staged one deleted.
    [first] = out["listKeys"]["data"]
    assert first["status"] == "Current" and first["signingKeyAlgorithm"] == "EC"
    rotated = out["rotateKeys"]["data"]
    assert [(k["status"], k["signingKeyAlgorithm"]) for k in rotated] == [("Current", "RSA"), ("Previous", "EC")]
    assert rotated[1]["id"] == first["id"]
    staged = out["stageKey"]["data"]
    assert [k["status"] for k in staged] == ["Current", "Next", "Previous"]
    assert staged[1]["signingKeyAlgorithm"] == "EC"
    assert staged[1]["effectiveAt"] - staged[1]["createdAt"] in range(3_599_000, 3_601_000)
    assert out["deleteKey"]["status"] == HTTPStatus.NO_CONTENT
    assert [k["id"] for k in out["listKeysAfter"]["data"]] == [rotated[0]["id"], first["id"]]

    # The app created through the SDK authenticates with the secret it was shown once; the script's last
    # call removed its role, so the token carries no scope.
    token = requests.post(
        f"{base}/oidc/token",
        data={"grant_type": "client_credentials", "resource": "https://sdk-shop.api", "scope": "read:orders"},
        auth=(app["id"], app["secret"]),
        timeout=10,
    )
    assert token.status_code == HTTPStatus.OK, token.text
    assert "scope" not in token.json()


def _run_node(script: str, base: str, credentials: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Run a Node script of tests/node against ``base``; its JSON output (which must say ok) and its stderr."""
    result = subprocess.run(
        ["node", script],
        cwd=NODE_DIR,
        env={
            **os.environ,
            "BASE_URL": base,
            "CLIENT_ID": credentials["client_id"],
            "CLIENT_SECRET": credentials["client_secret"],
            "API_INDICATOR": MANAGEMENT_INDICATOR,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    assert out["ok"], out.get("failure")
    return out, result.stderr


def test_logto_sdk_sets_up_an_organization(node_modules: Path, server: tuple[str, dict[str, str]]) -> None:
    """The organization setup of Logto's docs, through @logto/api; the app it sets up then gets both kinds
    of organization tokens."""
    base, env = server
    credentials = json.loads(_manage(env, "m2m", "bootstrap", "--json", "--name", "SDK driver"))
    out, _stderr = _run_node("sdk_organizations.mjs", base, credentials)

    for label in ("createResourceScope", "createOrganizationScope", "createOrganizationRole", "createOrganization"):
        assert out[label]["status"] == HTTPStatus.CREATED, (label, out[label])
    for label in ("addMember", "assignMemberRoles", "assignRolesInBulk"):
        assert out[label]["status"] == HTTPStatus.CREATED and out[label]["data"] is None, (label, out[label])
    assert out["replaceMembers"]["status"] == HTTPStatus.NO_CONTENT
    role, app, organization = (
        out[k]["data"] for k in ("createOrganizationRole", "createApplication", "createOrganization")
    )
    assert role["type"] == "MachineToMachine"
    assert organization["customData"] == {"plan": "pro"}
    assert out["getOrganization"]["data"] == organization
    assert [o["id"] for o in out["listOrganizations"]["data"]] == [organization["id"]]

    [member] = out["listMembers"]["data"]
    assert member["id"] == app["id"] and member["organizationRoles"] == [{"id": role["id"], "name": role["name"]}]
    assert [r["id"] for r in out["listMemberRoles"]["data"]] == [role["id"]]
    [membership] = out["listApplicationOrganizations"]["data"]
    assert membership["id"] == organization["id"]
    assert membership["organizationRoles"] == [{"id": role["id"], "name": role["name"]}]
    [listed_role] = out["listOrganizationRoles"]["data"]
    assert [s["name"] for s in listed_role["scopes"]] == ["read:members"]
    [resource_scope] = listed_role["resourceScopes"]
    assert resource_scope["name"] == "export:reports"
    assert resource_scope["resource"]["name"] == "SDK reports"
    assert [s["name"] for s in out["listRoleResourceScopes"]["data"]] == ["export:reports"]
    assert [s["name"] for s in out["listRoleScopes"]["data"]] == ["read:members"]

    refused = out["addManagementScope"]
    assert refused["status"] == HTTPStatus.UNPROCESSABLE_ENTITY
    assert refused["error"]["code"] == "organization_role.management_api_scope_not_allowed"

    def token(**params: str) -> requests.Response:
        body = {"grant_type": "client_credentials", "organization_id": organization["id"], **params}
        return requests.post(f"{base}/oidc/token", data=body, auth=(app["id"], app["secret"]), timeout=10)

    plain = token(scope="read:members export:reports")
    assert plain.status_code == HTTPStatus.OK, plain.text
    assert plain.json()["scope"] == "read:members"
    scoped = token(resource="https://sdk-reports.api", scope="read:members export:reports")
    assert scoped.status_code == HTTPStatus.OK, scoped.text
    assert scoped.json()["scope"] == "export:reports"
    elsewhere = requests.post(
        f"{base}/oidc/token",
        data={"grant_type": "client_credentials", "resource": "https://sdk-reports.api", "scope": "export:reports"},
        auth=(app["id"], app["secret"]),
        timeout=10,
    )
    assert elsewhere.status_code == HTTPStatus.OK and "scope" not in elsewhere.json()  # only inside the organization
