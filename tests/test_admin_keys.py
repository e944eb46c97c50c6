"""The signing keys admin: list, immediate and staged rotation, deleting a key that no longer signs."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from logto_m2m_django.keys import key_store
from logto_m2m_django.models import KeyStatus, SigningKey
from tests.admin_support import ADMIN, cells

pytestmark = pytest.mark.django_db

CHANGELIST = f"{ADMIN}/signingkey/"
ROTATE = f"{CHANGELIST}rotate/"


@pytest.fixture
def current_key(db):
    key_store.signing_material()
    return SigningKey.objects.get(status=KeyStatus.CURRENT)


def statuses():
    return dict(SigningKey.objects.values_list("kid", "status"))


def test_list_shows_kid_algorithm_status_and_no_private_key(admin_client, current_key):
    html = admin_client.get(CHANGELIST).content.decode()
    assert cells(html, "kid_column") == [current_key.kid]
    assert cells(html, "algorithm") == ["ES384"]
    assert cells(html, "status") == ["Current"]
    assert "Rotate now" in html and "Stage a Next key" in html
    detail = admin_client.get(f"{CHANGELIST}{current_key.pk}/change/").content.decode()
    assert current_key.private_key_encrypted not in detail
    assert current_key.public_jwk["x"] in detail


def test_immediate_rotation_keeps_the_old_key_as_previous(admin_client, current_key, access_token, api_client):
    response = admin_client.post(ROTATE, {"mode": "immediate", "algorithm": "ES256"}, follow=True)
    assert "signs new tokens now" in response.content.decode()
    new = SigningKey.objects.get(status=KeyStatus.CURRENT)
    assert new.algorithm == "ES256"
    assert statuses() == {current_key.kid: KeyStatus.PREVIOUS, new.kid: KeyStatus.CURRENT}
    ok = api_client.get("/products", HTTP_AUTHORIZATION=f"Bearer {access_token}")
    assert ok.status_code == HTTPStatus.OK


def test_staged_rotation_then_promotion(admin_client, current_key):
    admin_client.post(ROTATE, {"mode": "staged", "algorithm": "ES384"})
    staged = SigningKey.objects.get(status=KeyStatus.NEXT)
    page = admin_client.get(CHANGELIST).content.decode()
    assert "Promote the Next key now" in page and "Stage a Next key" not in page
    admin_client.post(ROTATE, {"mode": "immediate"})
    assert statuses() == {current_key.kid: KeyStatus.PREVIOUS, staged.kid: KeyStatus.CURRENT}


def test_rotation_error_is_a_message(admin_client, current_key):
    response = admin_client.post(ROTATE, {"mode": "immediate", "algorithm": "HS256"}, follow=True)
    assert "Unsupported algorithm" in response.content.decode()
    assert statuses() == {current_key.kid: KeyStatus.CURRENT}


def test_rotation_needs_post(admin_client, current_key):
    assert admin_client.get(ROTATE).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_previous_key_can_be_deleted_current_cannot(admin_client, current_key):
    key_store.rotate()
    new = SigningKey.objects.get(status=KeyStatus.CURRENT)
    current_page = admin_client.get(f"{CHANGELIST}{new.pk}/change/").content.decode()
    assert f"{new.pk}/delete/" not in current_page
    # Refused with the reason (tests/test_admin_keys_messages.py), not deleted:
    assert admin_client.post(f"{CHANGELIST}{new.pk}/delete/", {"post": "yes"}).status_code == HTTPStatus.FOUND
    assert SigningKey.objects.filter(pk=new.pk).exists()
    previous_page = admin_client.get(f"{CHANGELIST}{current_key.pk}/change/").content.decode()
    assert f"{current_key.pk}/delete/" in previous_page
    response = admin_client.post(f"{CHANGELIST}{current_key.pk}/delete/", {"post": "yes"})
    assert response.status_code == HTTPStatus.FOUND
    assert statuses() == {new.kid: KeyStatus.CURRENT}


def test_bulk_delete_refuses_the_current_key(admin_client, current_key):
    key_store.rotate()
    response = admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": list(SigningKey.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == HTTPStatus.FOUND  # back to the list, with the reason
    assert SigningKey.objects.count() == 2


def test_no_add_or_change_form(admin_client, current_key):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == HTTPStatus.FORBIDDEN
    page = admin_client.get(f"{CHANGELIST}{current_key.pk}/change/").content.decode()
    assert 'name="_save"' not in page


def test_rotation_with_a_grace_period_stages_a_dated_key_that_signs_by_itself(admin_client, current_key, monkeypatch):
    from logto_m2m_django import keys

    now = [1_800_000_000.0]
    monkeypatch.setattr(keys, "clock", lambda: now[0])
    page = admin_client.get(CHANGELIST).content.decode()
    assert 'name="grace_period"' in page and 'value="1h"' in page  # the default offered

    response = admin_client.post(ROTATE, {"mode": "grace", "grace_period": "4h", "algorithm": "ES256"}, follow=True)

    staged = SigningKey.objects.get(status=KeyStatus.NEXT)
    assert staged.algorithm == "ES256" and staged.effective_at.timestamp() == now[0] + 4 * 3600
    assert "signs new tokens from" in response.content.decode()
    assert key_store.signing_material().kid == current_key.kid
    now[0] += 4 * 3600
    assert key_store.signing_material().kid == staged.kid
    assert statuses() == {current_key.kid: KeyStatus.PREVIOUS, staged.kid: KeyStatus.CURRENT}


def test_rotation_with_a_short_grace_period_warns(admin_client, current_key):
    response = admin_client.post(ROTATE, {"mode": "grace", "grace_period": "30s"}, follow=True)
    assert "shorter than the 300 s a remote validator may keep the JWKS" in response.content.decode()
    assert SigningKey.objects.filter(status=KeyStatus.NEXT).exists()


def test_rotation_with_a_bad_grace_period_is_a_message(admin_client, current_key):
    response = admin_client.post(ROTATE, {"mode": "grace", "grace_period": "soon"}, follow=True)
    assert "Invalid duration" in response.content.decode()
    assert statuses() == {current_key.kid: KeyStatus.CURRENT}
