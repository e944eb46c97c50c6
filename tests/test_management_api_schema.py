"""Property-based tests of the Management API against its own OpenAPI document (schemathesis + hypothesis):
whatever the generated input, no operation answers with a 5xx, and every answer is JSON or empty."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install schemathesis)")

from django.core.signals import request_finished, request_started  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from logto_m2m_django.management_api.builtin import ensure_management_role  # noqa: E402
from logto_m2m_django.management_api.services import create_m2m_application  # noqa: E402
from logto_m2m_django.models import Resource, Role, Scope  # noqa: E402
from logto_m2m_django.provisioning import add_secret  # noqa: E402

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


def _call(case: Any, headers: dict[str, str]) -> Any:
    """Through the WSGI handler, whose request signals would close the test's database connection (and
    roll back its transaction); Django's test client disconnects them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        return case.call(headers=headers)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db: Any) -> dict[str, Any]:
    """A bearer token with scope ``all`` and one existing entity of each kind, to aim generated requests at."""
    admin, secret = create_m2m_application("Property admin", roles=[ensure_management_role()])
    basic = "Basic " + base64.b64encode(f"{admin.client_id}:{secret}".encode()).decode()
    body = urlencode({"grant_type": "client_credentials", "resource": "https://default.logto.app/api", "scope": "all"})
    response = APIClient().post(
        "/oidc/token", body, content_type="application/x-www-form-urlencoded", HTTP_AUTHORIZATION=basic
    )
    token = response.json()["access_token"]
    resource = Resource.objects.create(name="Shop", indicator="https://shop.api")
    scope = Scope.objects.create(resource=resource, name="read")
    role = Role.objects.create(name="Reader", description="Reads")
    role.scopes.add(scope)
    app, _ = create_m2m_application("Target", roles=[role])
    add_secret(app, "CI")
    return {
        "headers": {"Authorization": f"Bearer {token}"},
        "ids": {
            "application_id": app.client_id,
            "resource_id": resource.id,
            "scope_id": scope.id,
            "role_id": role.id,
            "name": "CI",
        },
    }


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@schema.exclude(path_regex=r"^/oidc/").parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: Any, seeded: dict[str, Any]) -> None:
    for use_real_ids in (False, True):
        if use_real_ids and case.path_parameters:
            case.path_parameters = {k: seeded["ids"].get(k, v) for k, v in case.path_parameters.items()}
        elif use_real_ids:
            continue
        response = _call(case, seeded["headers"])
        assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:500])
        if response.content:
            headers = {k.lower(): v for k, v in response.headers.items()}
            content_type = headers["content-type"]
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            assert content_type.startswith("application/json"), (case.method, case.formatted_path, headers)
