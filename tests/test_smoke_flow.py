"""The quick-start path in one test: token, then the protected API."""

from __future__ import annotations

from http import HTTPStatus

import pytest

pytestmark = pytest.mark.django_db


def test_token_then_products(shop, request_token, api_client):
    token = request_token(shop, scope="read:products write:products")
    assert token.status_code == HTTPStatus.OK
    body = token.json()
    assert body["scope"] == "read:products"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    response = api_client.get("/products", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert response.status_code == HTTPStatus.OK
    denied = api_client.post(
        "/products", {"name": "x", "price": "1.00"}, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}"
    )
    assert denied.status_code == HTTPStatus.FORBIDDEN
    assert 'error="insufficient_scope"' in denied["WWW-Authenticate"]
    assert 'scope="write:products"' in denied["WWW-Authenticate"]
