"""Deeply nested JSON in a token's header or payload: a 401 ``invalid_token``, never a RecursionError/500.

Python's JSON parser recurses once per ``[`` or ``{``: 5000 of them exhaust the default recursion limit.
The tokens below stay under ``MAX_TOKEN_LENGTH`` (8192), so the size check alone does not refuse them.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from logto_m2m_django import tokens
from tests.remote_support import StubIssuer, logto_m2m_claims, stub_issuer
from tests.security.conftest import assert_invalid_token, b64url

ARRAYS = b"[" * 5000
OBJECTS = b'{"a":' * 5000
#: Large enough for the nested objects (33 KB once encoded), as an operator may configure it.
BIG = 65536


@pytest.fixture(autouse=True)
def _large_tokens_allowed(settings: Any) -> None:
    # The nesting, not the size limit, must be what refuses these tokens.
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "MAX_TOKEN_LENGTH": BIG}


def _segment(raw: bytes) -> str:
    return b64url(raw)


def _nested_header_token(raw: bytes) -> str:
    return f"{_segment(raw)}.{_segment(b'{}')}.{_segment(b'sig')}"


def _nested_payload_token(header: dict[str, Any], raw: bytes) -> str:
    return f"{_segment(json.dumps(header).encode())}.{_segment(raw)}.{_segment(b'sig')}"


NESTED = pytest.mark.parametrize("raw", [ARRAYS, OBJECTS], ids=["arrays", "objects"])


@NESTED
def test_read_header_refuses_nesting_with_a_token_error(raw: bytes) -> None:
    token = _nested_header_token(raw)
    assert len(token) <= BIG
    with pytest.raises(tokens.TokenError) as caught:
        tokens.read_header(token, BIG)
    assert "nested too deeply" in caught.value.description


@NESTED
@pytest.mark.django_db
def test_nested_header_is_invalid_token_on_a_protected_view(forger: Any, call_products: Any, raw: bytes) -> None:
    response = call_products(_nested_header_token(raw))
    assert_invalid_token(response)
    assert "nested too deeply" in response["WWW-Authenticate"]


@NESTED
@pytest.mark.django_db
def test_nested_payload_is_invalid_token_on_a_protected_view(forger: Any, call_products: Any, raw: bytes) -> None:
    header = {"alg": forger.material.algorithm, "typ": "at+jwt", "kid": forger.material.kid}
    response = call_products(_nested_payload_token(header, raw))
    assert_invalid_token(response)


@NESTED
@pytest.mark.django_db
def test_nested_payload_signed_with_the_real_key_is_invalid_token(forger: Any, call_products: Any, raw: bytes) -> None:
    # Signed correctly, so PyJWT would reach its own json.loads of the payload.
    from jwt.algorithms import get_default_algorithms

    header = {"alg": forger.material.algorithm, "typ": "at+jwt", "kid": forger.material.kid}
    signing_input = f"{_segment(json.dumps(header).encode())}.{_segment(raw)}"
    algorithm = get_default_algorithms()[forger.material.algorithm]
    signature = algorithm.sign(signing_input.encode(), forger.material.private_key)
    response = call_products(f"{signing_input}.{_segment(signature)}")
    assert_invalid_token(response)
    assert "nested too deeply" in response["WWW-Authenticate"]


@NESTED
@pytest.mark.django_db
def test_nested_token_on_the_management_api_is_invalid_token(raw: bytes) -> None:
    response = APIClient().get("/api/applications", HTTP_AUTHORIZATION=f"Bearer {_nested_header_token(raw)}")
    assert_invalid_token(response)
    assert response["Content-Type"].startswith("application/json")


@NESTED
@pytest.mark.urls("tests.remote_urls")
def test_nested_token_in_remote_mode_is_invalid_token(raw: bytes) -> None:
    stub: StubIssuer
    with (
        stub_issuer() as stub,
        override_settings(LOGTO_M2M={"ISSUER": stub.issuer, "KEY_SOURCE": "remote", "MAX_TOKEN_LENGTH": BIG}),
    ):
        client = APIClient()
        good = stub.keys[0].sign(logto_m2m_claims(stub.issuer, "https://shopping.api"))
        assert client.get("/shop", HTTP_AUTHORIZATION=f"Bearer {good}").status_code == HTTPStatus.OK
        assert_invalid_token(client.get("/shop", HTTP_AUTHORIZATION=f"Bearer {_nested_header_token(raw)}"))
        header = {"alg": "ES384", "typ": "at+jwt", "kid": stub.keys[0].kid}
        assert_invalid_token(client.get("/shop", HTTP_AUTHORIZATION=f"Bearer {_nested_payload_token(header, raw)}"))


@NESTED
@pytest.mark.django_db
def test_inspector_explains_a_nested_header(admin_client: Any, raw: bytes) -> None:
    from tests.test_admin_inspector import URL, checks

    response = admin_client.post(URL, {"token": _nested_header_token(raw), "audience": "", "required_scopes": ""})
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert checks(page) == {"Format": "fail"}
    assert "nested too deeply" in page


@NESTED
@pytest.mark.django_db
def test_inspector_explains_a_nested_payload(admin_client: Any, forger: Any, raw: bytes) -> None:
    from tests.test_admin_inspector import URL, checks

    header = {"alg": forger.material.algorithm, "typ": "at+jwt", "kid": forger.material.kid}
    token = _nested_payload_token(header, raw)
    response = admin_client.post(URL, {"token": token, "audience": "", "required_scopes": ""})
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert checks(page)["Claims"] == "fail"
    assert "nested too deeply" in page
