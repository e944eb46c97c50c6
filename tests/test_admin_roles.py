"""The M2M roles admin: scope picker labelled by resource, holders, effective permissions."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from logto_m2m_django.models import Resource, Role, Scope
from tests.admin_support import ADMIN, cells

pytestmark = pytest.mark.django_db

CHANGELIST = f"{ADMIN}/role/"


def test_scope_picker_labels_each_scope_with_its_resource(admin_client, shop):
    billing = Resource.objects.create(name="Billing", indicator="https://billing.api")
    Scope.objects.create(resource=billing, name="read:invoices")
    page = admin_client.get(f"{CHANGELIST}add/").content.decode()
    assert "https://shopping.api · read:products" in page
    assert "https://shopping.api · write:products" in page
    assert "https://billing.api · read:invoices" in page
    assert "selectfilter" in page.lower()  # the two-box picker of filter_horizontal


def test_create_role_with_scopes(admin_client, shop):
    response = admin_client.post(
        f"{CHANGELIST}add/", {"name": "Shop writer", "description": "", "scopes": [shop.write.pk]}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert list(Role.objects.get(name="Shop writer").scopes.all()) == [shop.write]


def test_duplicate_role_name_is_a_form_error(admin_client, shop):
    response = admin_client.post(f"{CHANGELIST}add/", {"name": "Shop reader", "description": ""})
    assert response.status_code == HTTPStatus.OK
    assert "already exists" in response.content.decode()


def test_change_page_lists_holders_and_effective_permissions(admin_client, shop):
    page = admin_client.get(f"{CHANGELIST}{shop.role.pk}/change/").content.decode()
    holders = page[page.index("field-holders") :][:1500]
    assert "Order stats" in holders and shop.client_id in holders
    permissions = page[page.index("field-effective_permissions") :][:1500]
    assert "https://shopping.api" in permissions and "read:products" in permissions


def test_changelist_counts(admin_client, shop, django_assert_max_num_queries):
    Role.objects.create(name="Empty")
    with django_assert_max_num_queries(8):
        html = admin_client.get(CHANGELIST).content.decode()
    assert cells(html, "name") == ["Empty", "Shop reader"]
    assert cells(html, "permission_count") == ["0", "1"]
    assert cells(html, "application_count") == ["0", "1"]
