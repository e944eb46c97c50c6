"""Custom data and the custom-claims dry run in the admin: the application page and the token inspector."""

from __future__ import annotations

import json
from html import unescape
from http import HTTPStatus

import pytest
from django.conf import settings
from django.test import override_settings

from logto_m2m_django.models import M2MApplication, Resource, TokenActivity
from tests.admin_support import ADMIN
from tests.test_custom_claims import SEEN, denying_hook, raising_hook, tenant_hook
from tests.test_oauth_token import grant, post

pytestmark = pytest.mark.django_db

CHANGE = f"{ADMIN}/m2mapplication/{{pk}}/change/"
INSPECT = f"{ADMIN}/tokenactivity/inspect/"


@pytest.fixture(autouse=True)
def _reset():
    SEEN.clear()
    yield
    SEEN.clear()


def hooked(hook, **extra):
    return override_settings(
        LOGTO_M2M={**settings.LOGTO_M2M, "CUSTOM_CLAIMS": hook, "CUSTOM_CLAIMS_ENVIRONMENT": {"STAGE": "test"}, **extra}
    )


def change_data(shop, custom_data: str) -> dict:
    return {
        "name": "Order stats",
        "description": "",
        "is_enabled": "on",
        "roles": [shop.role.pk],
        "custom_data": custom_data,
        "secrets-TOTAL_FORMS": "0",
        "secrets-INITIAL_FORMS": "0",
        "secrets-MIN_NUM_FORMS": "0",
        "secrets-MAX_NUM_FORMS": "1000",
    }


def saved(shop) -> dict:
    return M2MApplication.objects.get(pk=shop.app.pk).custom_data


def test_custom_data_is_edited_as_json_on_the_change_page(admin_client, shop):
    url = CHANGE.format(pk=shop.app.pk)
    assert 'name="custom_data"' in admin_client.get(url).content.decode()
    response = admin_client.post(url, change_data(shop, '{"tenantId": "acme", "plan": "pro"}'))
    assert response.status_code == HTTPStatus.FOUND
    assert saved(shop) == {"tenantId": "acme", "plan": "pro"}
    response = admin_client.post(url, change_data(shop, ""))  # emptied: no custom data
    assert response.status_code == HTTPStatus.FOUND
    assert saved(shop) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"tenantId": ', "Enter a valid JSON."),
        ('["acme"]', "Custom data must be a JSON object."),
        ('{"notes": "' + "x" * 9000 + '"}', "Custom data holds at most 8192 bytes of JSON"),
    ],
)
def test_invalid_custom_data_is_refused_with_a_message(admin_client, shop, text, message):
    shop.app.custom_data = {"tenantId": "acme"}
    shop.app.save()
    response = admin_client.post(CHANGE.format(pk=shop.app.pk), change_data(shop, text))
    assert response.status_code == HTTPStatus.OK  # the form again, with the error
    assert message in unescape(response.content.decode())
    assert saved(shop) == {"tenantId": "acme"}


def test_change_page_shows_what_the_hook_adds_per_resource(admin_client, shop):
    shop.app.custom_data = {"tenantId": "acme", "plan": "pro"}
    shop.app.save()
    with hooked(tenant_hook):
        page = unescape(admin_client.get(CHANGE.format(pk=shop.app.pk)).content.decode())
    assert "Custom claims" in page
    assert "https://shopping.api" in page
    assert '"tenant_id": "acme"' in page and '"plan": "pro"' in page
    (seen,) = SEEN
    assert seen["api"].dry_run is True
    assert seen["token"]["aud"] == "https://shopping.api" and seen["token"]["scope"] == "read:products"
    assert not TokenActivity.objects.exists()  # a dry run issues and records nothing


def test_change_page_shows_a_failing_or_denying_hook(admin_client, shop):
    url = CHANGE.format(pk=shop.app.pk)
    with hooked(raising_hook):
        page = unescape(admin_client.get(url).content.decode())
    assert "The hook fails (the hook raised RuntimeError: plan service unreachable)" in page
    assert "the token is issued without custom claims" in page
    shop.app.custom_data = {"suspended": True}
    shop.app.save()
    with hooked(denying_hook):
        page = unescape(admin_client.get(url).content.decode())
    assert "The hook denies the request: 400 access_denied, “The tenant is suspended.”" in page


def test_change_page_without_a_hook_says_so(admin_client, shop):
    page = unescape(admin_client.get(CHANGE.format(pk=shop.app.pk)).content.decode())
    assert 'No custom claims hook is configured (LOGTO_M2M["CUSTOM_CLAIMS"]).' in page


def test_an_app_without_roles_previews_the_default_resource(admin_client, shop):
    shop.app.roles.clear()
    Resource.objects.filter(pk=shop.resource.pk).update(is_default=True)
    with hooked(tenant_hook):
        admin_client.get(CHANGE.format(pk=shop.app.pk))
    assert SEEN[0]["token"]["aud"] == "https://shopping.api" and "scope" not in SEEN[0]["token"]


def test_inspector_shows_what_the_hook_adds_for_the_token_application(admin_client, shop, api_client):
    with hooked(tenant_hook):
        token = post(api_client, grant(scope="read:products"), auth=shop.basic()).json()["access_token"]
    shop.app.custom_data = {"tenantId": "globex", "plan": "enterprise"}  # changed since the token was issued
    shop.app.save()
    with hooked(tenant_hook):
        response = admin_client.post(INSPECT, {"token": token, "audience": "", "required_scopes": ""})
    page = unescape(response.content.decode())
    assert "Custom claims (dry run)" in page
    assert '"tenant_id": "globex"' in page  # what a token issued now would carry
    assert '"plan": "enterprise"' in page
    assert SEEN[-1]["token"]["jti"] == json.loads(page.split('id="m2m-claims">')[1].split("</pre>")[0])["jti"]


def test_inspector_without_a_hook_has_no_dry_run(admin_client, access_token):
    page = admin_client.post(INSPECT, {"token": access_token, "audience": "", "required_scopes": ""}).content
    assert b"Custom claims (dry run)" not in page
