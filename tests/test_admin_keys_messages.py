"""The signing-key admin says why a key can't be deleted, and its rotation help matches its buttons."""

from __future__ import annotations

from html import unescape
from http import HTTPStatus

import pytest

from logto_m2m_django.keys import key_store
from logto_m2m_django.models import KeyStatus, SigningKey
from tests.admin_support import ADMIN, staff_user

pytestmark = pytest.mark.django_db

CHANGELIST = f"{ADMIN}/signingkey/"
CURRENT_REASON = "The Current key signs new tokens and can't be deleted"


@pytest.fixture
def keys(db):
    key_store.signing_material()
    key_store.rotate()
    return SigningKey.objects.get(status=KeyStatus.CURRENT), SigningKey.objects.get(status=KeyStatus.PREVIOUS)


def test_deleting_the_current_key_shows_the_real_reason(admin_client, keys):
    current, _previous = keys
    for method in ("get", "post"):
        response = getattr(admin_client, method)(f"{CHANGELIST}{current.pk}/delete/", follow=True)
        page = unescape(response.content.decode())
        assert response.status_code == HTTPStatus.OK
        assert CURRENT_REASON in page
        assert "permission" not in page.lower().split("<body")[1].replace("permissions", "")
    assert SigningKey.objects.filter(pk=current.pk).exists()


def test_bulk_delete_with_the_current_key_shows_the_real_reason(admin_client, keys):
    response = admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": list(SigningKey.objects.values_list("pk", flat=True))},
        follow=True,
    )
    page = unescape(response.content.decode())
    assert CURRENT_REASON in page
    assert "doesn't have permission" not in page
    assert SigningKey.objects.count() == 2


def test_staff_without_the_delete_permission_still_gets_403(client, keys):
    client.force_login(staff_user("viewer", "view_signingkey"))
    assert client.post(f"{CHANGELIST}{keys[0].pk}/delete/", {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN


def test_rotation_help_matches_the_buttons(admin_client, keys):
    page = admin_client.get(CHANGELIST).content.decode()
    assert "Stage a Next key" in page and "<strong>Stage a Next key</strong>" in page
    key_store.rotate(staged=True)
    page = admin_client.get(CHANGELIST).content.decode()
    assert "Promote the Next key now" in page
    assert "Stage a Next key" not in page and "<strong>Stage</strong>" not in page
    assert "<strong>Promote the Next key now</strong>" in page
