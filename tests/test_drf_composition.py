"""Composed scope permissions keep their RFC 6750 §3.1 challenge, with or without the exception handler."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from rest_framework.test import APIClient

from logto_m2m_django.keys import key_store

from .drf_support import OMIT, READ, WRITE, bearer, claims, signed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.composition_support")]

WITHOUT_HANDLER = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["logto_m2m_django.drf.JWTAccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["logto_m2m_django.drf.RequiredScopes"],
    "UNAUTHENTICATED_USER": None,
}
WITH_HANDLER = {**WITHOUT_HANDLER, "EXCEPTION_HANDLER": "logto_m2m_django.drf.exception_handler"}


@pytest.fixture(params=["without-handler", "with-handler"])
def client(request: Any, db: Any, settings: Any) -> APIClient:
    settings.REST_FRAMEWORK = WITHOUT_HANDLER if request.param == "without-handler" else WITH_HANDLER
    key_store.signing_material()
    return APIClient()


def token(scope: str | None) -> dict[str, str]:
    return bearer(signed(claims(scope=OMIT if scope is None else scope)))


def challenge_scopes(response: Any) -> str:
    assert response.status_code == HTTPStatus.FORBIDDEN, response.content
    header = response["WWW-Authenticate"]
    assert header.startswith('Bearer realm="api", error="insufficient_scope"'), header
    return header.rsplit('scope="', 1)[1].rstrip('"')


@pytest.mark.parametrize("path", ["/scope-or-admin", "/admin-or-scope"])
def test_scope_or_a_drf_class_keeps_the_challenge(client, path):
    assert client.get(path, **token(READ)).status_code == HTTPStatus.OK
    assert challenge_scopes(client.get(path, **token(WRITE))) == READ


def test_or_names_both_alternatives(client):
    assert client.get("/either", **token("admin")).status_code == HTTPStatus.OK
    assert challenge_scopes(client.get("/either", **token(READ))) == f"{WRITE} admin"


@pytest.mark.parametrize("path", ["/not-banned", "/authenticated-not-banned"])
def test_not_never_asks_for_the_forbidden_scope(client, path):
    assert client.get(path, **token(READ)).status_code == HTTPStatus.OK
    response = client.get(path, **token(f"{READ} banned"))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "WWW-Authenticate" not in response
    assert "banned" not in response.content.decode()


def test_not_of_an_or(client):
    assert client.get("/not-either", **token(READ)).status_code == HTTPStatus.OK
    for scope in ("banned", "blocked"):
        response = client.get("/not-either", **token(scope))
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert "WWW-Authenticate" not in response


def test_a_group_of_drf_classes_and_a_scope(client):
    assert client.get("/nested", **token(READ)).status_code == HTTPStatus.OK
    assert challenge_scopes(client.get("/nested", **token(WRITE))) == READ


def test_a_drf_class_and_a_group_of_scopes(client):
    assert client.get("/grouped", **token(WRITE)).status_code == HTTPStatus.OK
    assert challenge_scopes(client.get("/grouped", **token("other"))) == f"{READ} {WRITE}"


@pytest.mark.parametrize("path", ["/scope-or-admin", "/either", "/not-banned", "/nested", "/grouped"])
def test_no_token_is_still_401(client, path):
    response = client.get(path)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
