"""Every admin page respects Django's model permissions: view-only staff sees and does nothing more."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from logto_m2m_django.keys import key_store
from logto_m2m_django.models import KeyStatus, M2MApplication, Resource, SigningKey
from logto_m2m_django.provisioning import add_secret
from tests.admin_support import ADMIN, VIEW_ALL, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, db):
    client.force_login(staff_user("viewer", *VIEW_ALL))
    return client


@pytest.fixture
def keys(db):
    key_store.signing_material()
    key_store.rotate()
    return SigningKey.objects.get(status=KeyStatus.PREVIOUS)


CHANGELISTS = ["resource", "role", "m2mapplication", "signingkey", "tokenactivity"]


@pytest.mark.parametrize("model", CHANGELISTS)
def test_view_only_changelists_have_no_actions_or_add_buttons(viewer, shop, keys, model):
    response = viewer.get(f"{ADMIN}/{model}/")
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert 'name="action"' not in html
    assert "addlink" not in html
    assert "Rotate now" not in html


def test_view_only_change_pages_have_no_buttons(viewer, shop, keys):
    add_secret(shop.app, "production")
    pages = [
        f"{ADMIN}/resource/{shop.resource.pk}/change/",
        f"{ADMIN}/role/{shop.role.pk}/change/",
        f"{ADMIN}/m2mapplication/{shop.app.pk}/change/",
        f"{ADMIN}/signingkey/{keys.pk}/change/",
    ]
    for url in pages:
        response = viewer.get(url)
        assert response.status_code == HTTPStatus.OK, url
        html = response.content.decode()
        assert 'name="_save"' not in html, url
        assert "deletelink" not in html, url
        assert "Add a secret" not in html, url
        assert "-DELETE" not in html, url
    assert "production" in viewer.get(pages[2]).content.decode()  # secrets are listed, read-only


def test_view_only_staff_cannot_post(viewer, shop, keys):
    resource_url = f"{ADMIN}/resource/"
    app_url = f"{ADMIN}/m2mapplication/"
    assert (
        viewer.post(f"{resource_url}add/", {"name": "x", "indicator": "https://x.api"}).status_code
        == HTTPStatus.FORBIDDEN
    )
    assert viewer.post(f"{app_url}add/", {"name": "x"}).status_code == HTTPStatus.FORBIDDEN
    assert viewer.post(f"{app_url}{shop.app.pk}/secrets/add/", {"name": "x"}).status_code == HTTPStatus.FORBIDDEN
    assert viewer.post(f"{ADMIN}/signingkey/rotate/", {"mode": "immediate"}).status_code == HTTPStatus.FORBIDDEN
    assert viewer.post(f"{ADMIN}/signingkey/{keys.pk}/delete/", {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    viewer.post(app_url, {"action": "disable", "_selected_action": [shop.app.pk]})
    viewer.post(resource_url, {"action": "make_default", "_selected_action": [shop.resource.pk]})
    assert M2MApplication.objects.get().is_enabled
    assert not Resource.objects.get().is_default
    assert SigningKey.objects.count() == 2


def test_change_permission_allows_the_matching_actions(client, shop, keys):
    client.force_login(
        staff_user("operator", *VIEW_ALL, "change_m2mapplication", "add_signingkey", "change_signingkey")
    )
    apps = client.get(f"{ADMIN}/m2mapplication/").content.decode()
    assert 'value="disable"' in apps
    assert "Add a secret" in client.get(f"{ADMIN}/m2mapplication/{shop.app.pk}/change/").content.decode()
    assert "Rotate now" in client.get(f"{ADMIN}/signingkey/").content.decode()
    assert client.post(f"{ADMIN}/signingkey/rotate/", {"mode": "immediate"}).status_code == HTTPStatus.FOUND


def test_staff_without_permissions_sees_nothing(client, shop):
    client.force_login(staff_user("stranger"))
    for model in CHANGELISTS:
        assert client.get(f"{ADMIN}/{model}/").status_code == HTTPStatus.FORBIDDEN
