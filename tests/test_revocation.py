"""Revocation that revokes: the legacy secret, and the Management API's token lifetime.

Deleting DOT's own secret (Logto's *legacy secret*) through the Management API or the admin makes its value
stop working at once; the Management API resource's access-token lifetime can be shortened like any other.
"""

from __future__ import annotations

import base64
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from rest_framework.test import APIClient

from logto_m2m_django.management_api.builtin import ensure_management_resource, ensure_management_role
from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.models import ApplicationSecret, M2MApplication, Resource, Scope
from logto_m2m_django.provisioning import create_application
from tests.admin_support import ADMIN

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
MGMT = "https://default.logto.app/api"


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _token_response(client_id: str, secret: str, resource: str = MGMT, scope: str = "all") -> Any:
    body = urlencode({"grant_type": "client_credentials", "resource": resource, "scope": scope})
    return APIClient().post("/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=_basic(client_id, secret))


@pytest.fixture
def admin_app() -> tuple[M2MApplication, str]:
    return create_m2m_application("Admin script", roles=[ensure_management_role()])


@pytest.fixture
def api(admin_app: tuple[M2MApplication, str]) -> APIClient:
    response = _token_response(admin_app[0].client_id, admin_app[1])
    assert response.status_code == HTTPStatus.OK, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    return client


# -- the legacy secret -----------------------------------------------------------------


def test_deleting_the_legacy_secret_through_the_api_revokes_it(api: APIClient) -> None:
    m2m, secret = create_application("Made in the admin", roles=[ensure_management_role()])
    assert _token_response(m2m.client_id, secret).status_code == HTTPStatus.OK
    url = f"/api/applications/{m2m.client_id}/legacy-secret"
    response = api.delete(url)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["id"] == m2m.client_id and "secret" not in response.json()
    refused = _token_response(m2m.client_id, secret)
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert refused.json()["error"] == "invalid_client"
    assert not ApplicationSecret.objects.filter(application=m2m).exists()  # not moved anywhere
    second = api.delete(url)
    assert second.status_code == HTTPStatus.BAD_REQUEST
    assert second.json()["code"] == "application.no_legacy_secret_found"


def test_deleting_the_legacy_secret_keeps_the_named_secrets(api: APIClient) -> None:
    m2m, legacy = create_application("Two secrets", roles=[ensure_management_role()])
    created = api.post(f"/api/applications/{m2m.client_id}/secrets", {"name": "prod"}, format="json")
    assert created.status_code == HTTPStatus.CREATED
    assert api.delete(f"/api/applications/{m2m.client_id}/legacy-secret").status_code == HTTPStatus.OK
    assert _token_response(m2m.client_id, legacy).status_code == HTTPStatus.UNAUTHORIZED
    assert _token_response(m2m.client_id, created.json()["value"]).status_code == HTTPStatus.OK


def test_admin_action_revokes_the_default_secret(admin_client: Any) -> None:
    m2m, secret = create_application("Made in the admin", roles=[ensure_management_role()])
    other, other_secret = create_application("Untouched", roles=[ensure_management_role()])
    response = admin_client.post(
        f"{ADMIN}/m2mapplication/",
        {"action": "revoke_default_secret", "_selected_action": [m2m.pk]},
        follow=True,
    )
    assert response.status_code == HTTPStatus.OK
    assert "default secret was revoked" in response.content.decode()
    assert _token_response(m2m.client_id, secret).status_code == HTTPStatus.UNAUTHORIZED
    assert _token_response(other.client_id, other_secret).status_code == HTTPStatus.OK


def test_revoke_default_secret_action_needs_change_permission(client: Any) -> None:
    from tests.admin_support import VIEW_ALL, staff_user

    m2m, _ = create_application("Made in the admin")
    client.force_login(staff_user("viewer", *VIEW_ALL))
    client.post(f"{ADMIN}/m2mapplication/", {"action": "revoke_default_secret", "_selected_action": [m2m.pk]})
    m2m.application.refresh_from_db()
    assert m2m.application.client_secret  # still there


# -- the Management API resource's token lifetime ----------------------------------------


def _lifetime(token: str) -> int:
    claims = jwt.decode(token, options={"verify_signature": False})
    return int(claims["exp"]) - int(claims["iat"])


def test_management_resource_lifetime_can_be_shortened_through_the_api(
    api: APIClient, admin_app: tuple[M2MApplication, str]
) -> None:
    management, _ = ensure_management_resource()
    url = f"/api/resources/{management.id}"
    response = api.patch(url, {"accessTokenTtl": 300}, format="json")
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["accessTokenTtl"] == 300 and response.json()["indicator"] == MGMT
    token = _token_response(admin_app[0].client_id, admin_app[1]).json()["access_token"]
    assert _lifetime(token) == 300
    # The indicator, the name, the default flag and the `all` scope stay protected.
    for body in ({"name": "Mine"}, {"name": "Mine", "accessTokenTtl": 60}):
        refused = api.patch(url, body, format="json")
        assert refused.status_code == HTTPStatus.BAD_REQUEST
        assert refused.json()["code"] == "resource.cannot_modify_management_api"
    assert api.patch(url, {"accessTokenTtl": 0}, format="json").status_code == HTTPStatus.BAD_REQUEST
    management.refresh_from_db()
    assert (management.name, management.indicator, management.access_token_ttl) == ("Management API", MGMT, 300)
    assert Scope.objects.filter(resource=management, name="all").exists()


def test_management_resource_lifetime_can_be_shortened_in_the_admin(admin_client: Any) -> None:
    management, _ = ensure_management_resource()
    url = f"{ADMIN}/resource/{management.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="access_token_ttl"' in page
    assert 'name="name"' not in page and 'name="indicator"' not in page and 'name="scopes-0-name"' not in page
    assert f"{ADMIN}/resource/{management.pk}/delete/" not in page
    response = admin_client.post(
        url,
        {
            "name": "Renamed",
            "indicator": "https://elsewhere.api",
            "access_token_ttl": "120",
            "is_default": "on",
            "scopes-TOTAL_FORMS": "0",
            "scopes-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == HTTPStatus.FOUND, response.content.decode()[:2000]
    management.refresh_from_db()
    assert (management.name, management.indicator) == ("Management API", MGMT)
    assert management.access_token_ttl == 120 and management.is_default is False
    assert Resource.objects.filter(indicator=MGMT).count() == 1
