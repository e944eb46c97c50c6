"""How the Bearer token travels (RFC 6750 §2): header only, unless a setting allows the others."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlencode

import pytest

from tests.conftest import FORM
from tests.security.conftest import assert_invalid_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(call_products, access_token, scheme):
    response = call_products(HTTP_AUTHORIZATION=f"{scheme} {access_token}")
    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "header",
    [
        # What a WSGI server makes of two Authorization headers: one value, joined by a comma.
        "Bearer {t},Bearer {t}",
        "Bearer {t}, Bearer {t}",
        "Bearer {t},Basic Zm9vOmJhcg==",
        "Bearer {t},{t}",
        "Bearer {t} {t}",
        "Bearer {t}\tx",
        "Bearer ",
        "Bearer",
    ],
)
def test_two_authorization_values_or_a_bad_header_are_refused(call_products, access_token, header):
    assert_invalid_token(call_products(HTTP_AUTHORIZATION=header.format(t=access_token)))


def test_no_token_gets_a_bare_challenge(call_products, shop):
    response = call_products()
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_token_in_the_query_string_is_refused_by_default(api_client, access_token):
    response = api_client.get("/products?" + urlencode({"access_token": access_token}))
    assert_invalid_token(response)
    assert "Authorization header" in response["WWW-Authenticate"]


def test_token_in_a_form_body_is_refused_by_default(api_client, access_token):
    body = urlencode({"access_token": access_token, "name": "Lamp", "price": "1.00"})
    response = api_client.post("/products", body, content_type=FORM)
    assert_invalid_token(response)


def test_token_in_the_query_string_when_allowed(api_client, access_token, settings):
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "ACCEPT_TOKEN_IN_QUERY": True}
    assert api_client.get("/products?" + urlencode({"access_token": access_token})).status_code == HTTPStatus.OK
    # Allowing the query string does not allow the body.
    body = urlencode({"access_token": access_token, "name": "Lamp", "price": "1.00"})
    assert_invalid_token(api_client.post("/products", body, content_type=FORM))
    # A forged token there is refused like in the header.
    assert_invalid_token(api_client.get("/products?access_token=a.b.c"))
    # Two tokens in the query string: refused.
    repeated = urlencode([("access_token", access_token), ("access_token", access_token)])
    assert_invalid_token(api_client.get("/products?" + repeated))


def test_token_in_a_form_body_when_allowed(api_client, shop, request_token, settings):
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "ACCEPT_TOKEN_IN_BODY": True}
    token = request_token(shop, scope="read:products").json()["access_token"]
    # A read-only token: authenticated from the body, then refused for the missing scope.
    body = urlencode({"access_token": token, "name": "Lamp", "price": "1.00"})
    response = api_client.post("/products", body, content_type=FORM)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    # RFC 6750 §2.2: never in a GET, and only in form-urlencoded bodies.
    assert_invalid_token(api_client.get("/products?" + urlencode({"access_token": token})))
    json_body = api_client.post("/products", {"access_token": token}, format="json")
    assert json_body.status_code == HTTPStatus.UNAUTHORIZED
    assert "invalid_token" not in json_body["WWW-Authenticate"]
