"""Management API errors are Logto-style JSON in every case, and no input makes it answer a 5xx it did not mean.

Deeply nested bodies, unknown routes, wrong methods, broken JSON, a database that is down, and search patterns
that would make a backtracking matcher explode.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from logto_m2m_django.management_api.builtin import ensure_management_role
from logto_m2m_django.management_api.services import create_m2m_application
from tests.test_management_api import _token

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db: Any) -> APIClient:
    app, secret = create_m2m_application("Admin script", roles=[ensure_management_role()])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + _token(client, app.client_id, secret))
    return client


def assert_json_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str), body
    if code is not None:
        assert body["code"] == code, body
    return dict(body)


# -- bodies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"[" * 5000, b'{"a":' * 5000, b'{"name":' + b"[" * 100000 + b"]" * 100000 + b"}"])
def test_deeply_nested_body_is_400_json(api: APIClient, raw: bytes) -> None:
    response = api.generic("POST", "/api/resources", raw, content_type="application/json")
    body = assert_json_error(response, HTTPStatus.BAD_REQUEST, "guard.invalid_input")
    assert "nested too deeply" in body["message"]


def test_nesting_a_little_deeper_than_any_real_body_is_refused_before_validation(api: APIClient) -> None:
    raw = b'{"name": "Shop", "indicator": "https://shop.api", "x": ' + b"[" * 70 + b"]" * 70 + b"}"
    response = api.generic("POST", "/api/resources", raw, content_type="application/json")
    assert_json_error(response, HTTPStatus.BAD_REQUEST, "guard.invalid_input")


@pytest.mark.parametrize("raw", [b"{", b'{"name": "a",}', b"\xff\xfe", b'{"name": NaN}'])
def test_malformed_json_body_is_400_json(api: APIClient, raw: bytes) -> None:
    response = api.generic("POST", "/api/resources", raw, content_type="application/json")
    assert_json_error(response, HTTPStatus.BAD_REQUEST, "guard.invalid_input")


def test_wrong_content_type_is_415_json(api: APIClient) -> None:
    response = api.generic("POST", "/api/resources", b"name=x", content_type="application/x-www-form-urlencoded")
    assert_json_error(response, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "request.unsupported_media_type")


# -- routes and methods ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/applications/x/y/z", "/api/resources/abc/nothing", "/api/roles/r/scopes/s/more", "/api/"]
)
def test_unknown_route_is_404_json(api: APIClient, path: str) -> None:
    assert_json_error(api.get(path), HTTPStatus.NOT_FOUND, "entity.not_found")


def test_unknown_route_needs_no_token_to_be_json(db: Any) -> None:
    assert_json_error(APIClient().get("/api/applications/x/y/z"), HTTPStatus.NOT_FOUND)


def test_method_not_allowed_is_405_json(api: APIClient) -> None:
    body = assert_json_error(api.put("/api/applications"), HTTPStatus.METHOD_NOT_ALLOWED, "request.method_not_allowed")
    assert "PUT" in body["message"]


def test_the_project_routes_beside_the_api_are_untouched(db: Any) -> None:
    # The example project mounts its Swagger UI at /api/docs, after the API's own routes.
    assert APIClient().get("/api/docs").status_code == HTTPStatus.OK


# -- the database is down -------------------------------------------------------------------------


def _database_down(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    raise OperationalError("connection to server at 127.0.0.1, port 1 failed: Connection refused")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/applications", None),
        ("get", "/api/resources/some-id", None),
        ("post", "/api/resources", {"name": "Shop", "indicator": "https://shop.api"}),
        ("delete", "/api/roles/some-id", None),
    ],
)
def test_database_down_is_503_json(api: APIClient, method: str, path: str, body: Any) -> None:
    with connection.execute_wrapper(_database_down):
        response = getattr(api, method)(path, body, format="json") if body else getattr(api, method)(path)
    body_json = assert_json_error(response, HTTPStatus.SERVICE_UNAVAILABLE, "database.unavailable")
    assert "Connection refused" not in body_json["message"]  # no server internals in the answer
    assert response["Retry-After"].isdigit()


# -- search --------------------------------------------------------------------------------------


EXPLOSIVE = "%a" * 40 + "b"  # a backtracking matcher tries ~C(n, 40) splits on a run of "a"s


def test_search_with_a_pattern_that_would_backtrack_runs_no_regexp(api: APIClient) -> None:
    for name in ("a" * 120, "a" * 119 + "b", "aab"):
        assert (
            api.post(
                "/api/roles", {"name": name, "description": "d", "type": "MachineToMachine"}, format="json"
            ).status_code
            == 200
        )

    def refuse_regexp(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        # Checked before the query runs: a backtracking REGEXP would not return for hours.
        assert "REGEXP" not in sql.upper(), sql
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(refuse_regexp):
        response = api.get("/api/roles", {"search.name": EXPLOSIVE})
    assert response.status_code == HTTPStatus.OK, response.content
    assert [role["name"] for role in response.json()] == ["a" * 119 + "b"]
    sql = " ".join(q["sql"] for q in queries.captured_queries).upper()
    assert "REGEXP" not in sql and " ~" not in sql
    assert " LIKE " in sql or " GLOB " in sql


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"search": "%50\\%%"}, ["50% off"]),  # an escaped wildcard is a literal
        ({"search": "50_ off"}, ["50% off", "50x off"]),
        ({"search": "50\\_ off"}, []),
        ({"search": "a\\"}, ["a\\"]),  # a lone trailing backslash is a literal backslash, not a 500
        ({"search": "*"}, ["*"]),  # GLOB's wildcards are literals in Logto's patterns
        ({"search": "[ab]"}, ["[ab]"]),
        ({"search": "?"}, ["?"]),
        ({"search": "a%", "isCaseSensitive": "true"}, ["a\\"]),
        ({"search": "A%", "isCaseSensitive": "true"}, []),
        ({"search": "A%"}, ["a\\"]),
    ],
)
def test_search_pattern_semantics(api: APIClient, query: dict[str, str], expected: list[str]) -> None:
    for name in ("50% off", "50x off", "a\\", "*", "[ab]", "?"):
        response = api.post("/api/roles", {"name": name, "description": "d", "type": "MachineToMachine"}, format="json")
        assert response.status_code == 200, response.content
    params = {("search.name" if key == "search" else key): value for key, value in query.items()}
    response = api.get("/api/roles", params)
    assert response.status_code == HTTPStatus.OK, response.content
    assert sorted(role["name"] for role in response.json()) == sorted(expected)
