"""The OpenAPI document groups its operations by tag, as Logto's does (one Swagger UI section per topic)."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest
from rest_framework.test import APIClient

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def document(db: Any) -> dict[str, Any]:
    response = APIClient().get("/api/openapi.json")
    assert response.status_code == HTTPStatus.OK
    return dict(json.loads(response.content))


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


@pytest.mark.parametrize(
    ("path", "method", "tag"),
    [
        ("/api/applications", "get", "Applications"),
        ("/api/applications/{application_id}/secrets", "post", "Applications"),
        ("/api/applications/{application_id}/roles", "put", "Applications"),
        ("/api/applications/{application_id}/organizations", "get", "Applications"),
        ("/api/resources", "post", "API resources"),
        ("/api/resources/{resource_id}/scopes/{scope_id}", "delete", "API resources"),
        ("/api/roles", "get", "Roles"),
        ("/api/roles/{role_id}/applications", "post", "Roles"),
        ("/api/organizations", "get", "Organizations"),
        ("/api/organizations/{organization_id}/applications/roles", "post", "Organizations"),
        ("/api/organization-roles", "get", "Organization roles"),
        ("/api/organization-roles/{role_id}/resource-scopes", "get", "Organization roles"),
        ("/api/organization-scopes/{scope_id}", "patch", "Organization scopes"),
        ("/api/logs", "get", "Logs"),
        ("/api/logs/{log_id}", "get", "Logs"),
        ("/oidc/token", "post", "OIDC"),
    ],
)
def test_each_operation_is_under_its_topic(document: dict[str, Any], path: str, method: str, tag: str) -> None:
    assert document["paths"][path][method]["tags"] == [tag]


def test_every_operation_has_one_declared_tag(document: dict[str, Any]) -> None:
    declared = [tag["name"] for tag in document["tags"]]
    assert len(declared) == len(set(declared))
    assert all(tag.get("description") for tag in document["tags"])
    untagged = [
        (method, path)
        for path, method, operation in operations(document)
        if len(operation.get("tags", [])) != 1 or operation["tags"][0] not in declared
    ]
    assert untagged == []
    # Swagger UI shows the sections in the document's order: the declared order, none of them empty.
    used = {operation["tags"][0] for _path, _method, operation in operations(document)}
    assert set(declared) == used
    assert declared[:4] == ["Applications", "API resources", "Roles", "Organizations"]
