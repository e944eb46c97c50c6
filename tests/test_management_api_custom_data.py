"""Application customData through the Management API: create, patch, and PATCH .../custom-data (Logto's route)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from logto_m2m_django.management_api.builtin import ensure_management_role
from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.models import M2MApplication
from tests.test_management_api import _app, _patch, _post, _token

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db: Any) -> APIClient:
    m2m, secret = create_m2m_application("Admin script", roles=[ensure_management_role()])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + _token(client, m2m.client_id, secret))
    return client


def url(app_id: str) -> str:
    return f"/api/applications/{app_id}/custom-data"


def stored(app_id: str) -> dict:
    return M2MApplication.objects.get(application__client_id=app_id).custom_data


def test_patch_custom_data_merges_top_level_keys(api):
    app = _app(api, "Billing sync")
    first = _patch(api, f"/api/applications/{app['id']}", {"customData": {"tenantId": "acme", "plan": "free"}})
    assert first.status_code == HTTPStatus.OK
    response = _patch(api, url(app["id"]), {"plan": "pro", "limits": {"rps": 10}})
    assert response.status_code == HTTPStatus.OK, response.content
    expected = {"tenantId": "acme", "plan": "pro", "limits": {"rps": 10}}
    assert response.json() == expected
    assert stored(app["id"]) == expected
    # Top-level merge, as Logto's jsonb ||: a nested object is replaced, not merged.
    assert _patch(api, url(app["id"]), {"limits": {"burst": 5}}).json()["limits"] == {"burst": 5}
    assert api.get(f"/api/applications/{app['id']}").json()["customData"]["limits"] == {"burst": 5}


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "3", "null", "true"])
def test_patch_custom_data_with_a_non_object_is_400(api, body):
    app = _app(api, "Billing sync")
    response = api.patch(url(app["id"]), body, content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert response.json()["code"] == "guard.invalid_input"
    assert stored(app["id"]) == {}


def test_patch_custom_data_of_an_unknown_application_is_404(api):
    response = _patch(api, url("nope"), {"a": 1})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "entity.not_exists_with_id"


def test_patch_custom_data_needs_the_management_token(api):
    app = _app(api, "Billing sync")
    api.credentials()
    assert _patch(api, url(app["id"]), {"a": 1}).status_code == HTTPStatus.UNAUTHORIZED


def test_custom_data_is_size_limited_everywhere(api):
    app = _app(api, "Billing sync")
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "CUSTOM_DATA_MAX_BYTES": 64}):
        big = {"notes": "x" * 100}
        created = _post(api, "/api/applications", {"name": "Big", "type": "MachineToMachine", "customData": big})
        assert created.status_code == HTTPStatus.BAD_REQUEST, created.content
        assert "at most 64 bytes" in str(created.json())
        patched = _patch(api, f"/api/applications/{app['id']}", {"customData": big})
        assert patched.status_code == HTTPStatus.BAD_REQUEST
        assert _patch(api, url(app["id"]), {"a": "y" * 30}).status_code == HTTPStatus.OK
        # Each patch is small, the merged object is not.
        merged = _patch(api, url(app["id"]), {"b": "z" * 30})
        assert merged.status_code == HTTPStatus.BAD_REQUEST, merged.content
        assert "at most 64 bytes" in merged.json()["details"]
    assert stored(app["id"]) == {"a": "y" * 30}
    assert not M2MApplication.objects.filter(application__name="Big").exists()


def test_custom_data_must_not_hold_nul_characters(api):
    app = _app(api, "Billing sync")
    response = _patch(api, url(app["id"]), {"k\u0000": 1})
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_openapi_documents_the_custom_data_route(api):
    schema = api.get("/api/openapi.json").json()
    assert "patch" in schema["paths"]["/api/applications/{application_id}/custom-data"]
