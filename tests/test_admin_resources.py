"""The API resources admin: list, search, scopes inline, validation, "make default", the management API."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.conf import settings
from django.test import override_settings

from logto_m2m_django.models import Resource, Scope
from tests.admin_support import cells

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/logto_m2m/resource/"
ADD = "/admin/logto_m2m/resource/add/"
MANAGEMENT = "https://default.logto.app/api"


def form_data(**overrides):
    data = {
        "name": "Online shopping",
        "indicator": "https://shopping.api",
        "access_token_ttl": "3600",
        "scopes-TOTAL_FORMS": "2",
        "scopes-INITIAL_FORMS": "0",
        "scopes-MIN_NUM_FORMS": "0",
        "scopes-MAX_NUM_FORMS": "1000",
        "scopes-0-name": "read:products",
        "scopes-0-description": "Read products",
        "scopes-1-name": "write:products",
        "scopes-1-description": "Write products",
    }
    data.update(overrides)
    return data


def test_create_resource_with_scopes_inline(admin_client):
    response = admin_client.post(ADD, form_data())
    assert response.status_code == HTTPStatus.FOUND
    resource = Resource.objects.get(indicator="https://shopping.api")
    assert sorted(resource.scopes.values_list("name", "description")) == [
        ("read:products", "Read products"),
        ("write:products", "Write products"),
    ]


@pytest.mark.parametrize(
    ("indicator", "message"),
    [
        ("shopping.api", "must be an absolute URI"),
        ("https://shopping.api/#orders", "must not contain a fragment"),
        ("https://shopping.api", "already exists"),
    ],
)
def test_bad_indicator_is_a_form_error(admin_client, shop, indicator, message):
    response = admin_client.post(ADD, form_data(name="Another", indicator=indicator, **{"scopes-TOTAL_FORMS": "0"}))
    assert response.status_code == HTTPStatus.OK
    assert message in response.content.decode()
    assert Resource.objects.filter(name="Another").count() == 0


@pytest.mark.parametrize("name", ["read products", 'say"hi', "back\\slash"])
def test_bad_scope_name_is_a_form_error(admin_client, name):
    response = admin_client.post(ADD, form_data(**{"scopes-0-name": name}))
    assert response.status_code == HTTPStatus.OK
    assert "A scope name is one RFC 6749 scope token" in response.content.decode()
    assert not Resource.objects.exists()


def test_duplicate_scope_names_are_a_form_error(admin_client):
    response = admin_client.post(ADD, form_data(**{"scopes-1-name": "read:products"}))
    assert response.status_code == HTTPStatus.OK
    assert "Please correct the duplicate data" in response.content.decode()
    assert not Resource.objects.exists()


def test_existing_scope_name_is_a_form_error(admin_client, shop):
    url = f"{CHANGELIST}{shop.resource.pk}/change/"
    data = {
        "name": "Online shopping",
        "access_token_ttl": "3600",
        "scopes-TOTAL_FORMS": "3",
        "scopes-INITIAL_FORMS": "2",
        "scopes-MIN_NUM_FORMS": "0",
        "scopes-MAX_NUM_FORMS": "1000",
        "scopes-0-id": shop.read.pk,
        "scopes-0-resource": shop.resource.pk,
        "scopes-0-name": "read:products",
        "scopes-1-id": shop.write.pk,
        "scopes-1-resource": shop.resource.pk,
        "scopes-1-name": "write:products",
        "scopes-2-resource": shop.resource.pk,
        "scopes-2-name": "write:products",
    }
    response = admin_client.post(url, data)
    assert response.status_code == HTTPStatus.OK
    body = response.content.decode()
    # Django before 6.0 says "Please correct the duplicate data"; 6.x "... already exists".
    assert "duplicate" in body or "already exists" in body
    assert shop.resource.scopes.count() == 2


@pytest.mark.parametrize("ttl", ["0", str(86400 * 30 + 1)])
def test_token_lifetime_out_of_range_is_a_form_error(admin_client, ttl):
    response = admin_client.post(ADD, form_data(access_token_ttl=ttl))
    assert response.status_code == HTTPStatus.OK
    assert "Ensure this value is" in response.content.decode()


def test_second_default_is_a_form_error(admin_client, shop):
    Resource.objects.filter(pk=shop.resource.pk).update(is_default=True)
    response = admin_client.post(ADD, form_data(name="Billing", indicator="https://billing.api", is_default="on"))
    assert response.status_code == HTTPStatus.OK
    assert "is the default API already" in response.content.decode()


def test_indicator_is_read_only_after_creation(admin_client, shop):
    response = admin_client.get(f"{CHANGELIST}{shop.resource.pk}/change/")
    assert response.status_code == HTTPStatus.OK
    assert 'name="indicator"' not in response.content.decode()
    assert "https://shopping.api" in response.content.decode()


def test_changelist_counts_scopes_and_roles_and_searches(admin_client, shop):
    Resource.objects.create(name="Billing", indicator="https://billing.api")
    html = admin_client.get(CHANGELIST).content.decode()
    # Rows are ordered by name: Billing, then Online shopping.
    assert cells(html, "indicator") == ["https://billing.api", "https://shopping.api"]
    assert cells(html, "access_token_ttl") == ["3600", "3600"]
    assert cells(html, "scope_count") == ["0", "2"]
    assert cells(html, "role_count") == ["0", "1"]
    found = admin_client.get(CHANGELIST, {"q": "billing.api"}).content.decode()
    assert cells(found, "indicator") == ["https://billing.api"]


def test_make_default_action_moves_the_flag(admin_client, shop):
    billing = Resource.objects.create(name="Billing", indicator="https://billing.api", is_default=True)
    response = admin_client.post(
        CHANGELIST, {"action": "make_default", "_selected_action": [shop.resource.pk]}, follow=True
    )
    assert "is now the default API" in response.content.decode()
    assert list(Resource.objects.default()) == [shop.resource]
    billing.refresh_from_db()
    assert not billing.is_default


def test_make_default_needs_exactly_one(admin_client, shop):
    billing = Resource.objects.create(name="Billing", indicator="https://billing.api")
    response = admin_client.post(
        CHANGELIST, {"action": "make_default", "_selected_action": [shop.resource.pk, billing.pk]}, follow=True
    )
    assert "Select exactly one API" in response.content.decode()
    assert not Resource.objects.default().exists()


@pytest.fixture
def management(db):
    resource = Resource.objects.create(name="Logto Management API", indicator=MANAGEMENT)
    Scope.objects.create(resource=resource, name="all", description="Default scope for Management API")
    return resource


def test_management_resource_is_read_only_but_its_lifetime(admin_client, management):
    url = f"{CHANGELIST}{management.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert "only its access-token lifetime can be changed" in page
    assert 'name="name"' not in page
    assert 'name="scopes-0-name"' not in page
    assert "/delete/" not in page
    response = admin_client.post(
        url, {"name": "Renamed", "access_token_ttl": "60", "scopes-TOTAL_FORMS": "0", "scopes-INITIAL_FORMS": "0"}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert admin_client.post(f"{CHANGELIST}{management.pk}/delete/", {"post": "yes"}).status_code == (
        HTTPStatus.FORBIDDEN
    )
    management.refresh_from_db()
    assert management.name == "Logto Management API" and management.access_token_ttl == 60


def test_management_resource_survives_bulk_delete(admin_client, management, shop):
    admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [management.pk, shop.resource.pk], "post": "yes"},
    )
    assert Resource.objects.filter(pk=management.pk).exists()


@override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "MANAGEMENT_API_INDICATOR": "https://mgmt.api"})
def test_management_indicator_comes_from_settings(admin_client, management):
    page = admin_client.get(f"{CHANGELIST}{management.pk}/change/").content.decode()
    assert 'name="name"' in page
