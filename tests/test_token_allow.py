"""The token endpoint's Allow header matches what it does: POST only (RFC 9110 §15.5.6)."""

from __future__ import annotations

from http import HTTPStatus

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method", ["options", "get", "put", "delete"])
def test_every_other_method_is_405_with_allow_post(api_client, method):
    response = getattr(api_client, method)("/oidc/token")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Allow"] == "POST"
    assert response.json()["error"] == "invalid_request"


def test_post_answers_allow_post(api_client):
    response = api_client.post(
        "/oidc/token", "grant_type=client_credentials", content_type="application/x-www-form-urlencoded"
    )
    assert response["Allow"] == "POST"
