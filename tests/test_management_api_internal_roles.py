"""`#internal:` roles: Logto reserves the prefix, so no one can hide a role holding `all` from GET /api/roles."""

from __future__ import annotations

import base64
from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from logto_m2m_django.management_api.builtin import ensure_management_role
from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db: object) -> APIClient:
    m2m, secret = create_m2m_application("Admin script", roles=[ensure_management_role()])
    basic = "Basic " + base64.b64encode(f"{m2m.client_id}:{secret}".encode()).decode()
    body = urlencode({"grant_type": "client_credentials", "resource": "https://default.logto.app/api", "scope": "all"})
    response = APIClient().post(
        "/oidc/token", body, content_type="application/x-www-form-urlencoded", HTTP_AUTHORIZATION=basic
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    return client


def test_creating_an_internal_role_is_refused(api: APIClient) -> None:
    response = api.post("/api/roles", {"name": "#internal:hidden", "description": "x"}, format="json")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "role.internal_role_violation"
    assert not Role.objects.filter(name="#internal:hidden").exists()


def test_renaming_a_role_into_the_internal_prefix_is_refused(api: APIClient) -> None:
    role = api.post("/api/roles", {"name": "Visible", "description": "x"}, format="json").json()
    response = api.patch(f"/api/roles/{role['id']}", {"name": "#internal:gone"}, format="json")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "role.internal_role_violation"
    assert Role.objects.get(id=role["id"]).name == "Visible"


def test_existing_internal_roles_cannot_be_changed_through_the_api(api: APIClient) -> None:
    role = Role.objects.create(name="#internal:made-by-code", description="x")
    everything = ensure_management_role().scopes.get()
    for response in (
        api.patch(f"/api/roles/{role.id}", {"description": "y"}, format="json"),
        api.post(f"/api/roles/{role.id}/scopes", {"scopeIds": [everything.id]}, format="json"),
        api.delete(f"/api/roles/{role.id}"),
    ):
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert response.json()["code"] == "role.internal_role_violation"
    assert not role.scopes.exists()
