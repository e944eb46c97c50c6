"""RequiredScopes, HasScope and the insufficient_scope challenge (RFC 6750 §3.1)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from logto_m2m_django.drf import HasScope, M2MPrincipal, RequiredScopes
from logto_m2m_django.keys import key_store

from .drf_support import OMIT, READ, WRITE, bearer, claims, signed
from .drf_support import ReadView as _ReadView

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.drf_support")]

WITHOUT_HANDLER = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["logto_m2m_django.drf.JWTAccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["logto_m2m_django.drf.RequiredScopes"],
    "UNAUTHENTICATED_USER": None,
}


@pytest.fixture
def client(db: Any) -> APIClient:
    key_store.signing_material()
    return APIClient()


def token(scope: str | None) -> dict[str, str]:
    return bearer(signed(claims(scope=OMIT if scope is None else scope)))


def challenge(missing: str) -> str:
    return (
        'Bearer realm="api", error="insufficient_scope", '
        f'error_description="The access token lacks a required scope.", scope="{missing}"'
    )


def assert_insufficient(response: Any, missing: str) -> None:
    assert response.status_code == HTTPStatus.FORBIDDEN, response.content
    assert response["WWW-Authenticate"] == challenge(missing)


# -- required_scopes -------------------------------------------------------------------


def test_required_scope_held_is_allowed(client):
    assert client.get("/read", **token(READ)).status_code == HTTPStatus.OK


def test_missing_required_scope_is_403_with_the_challenge(client):
    response = client.get("/read", **token(WRITE))

    assert_insufficient(response, READ)
    assert response.json() == {"detail": f"The token lacks the required scope: {READ}."}


@pytest.mark.parametrize("scope", [None, "", "read:product", "READ:PRODUCTS", "read:products:all"])
def test_scopes_match_exactly(client, scope):
    assert_insufficient(client.get("/read", **token(scope)), READ)


def test_challenge_names_only_the_missing_scopes(client):
    assert client.get("/string-scopes", **token(f"{WRITE} {READ}")).status_code == HTTPStatus.OK
    assert_insufficient(client.get("/string-scopes", **token(READ)), WRITE)
    assert_insufficient(client.get("/string-scopes", **token("other")), f"{READ} {WRITE}")


def test_no_token_is_401_not_403(client):
    response = client.get("/read")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_denied_request_runs_no_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/read", **token(WRITE))

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_view_without_required_scopes_is_improperly_configured(client):
    with pytest.raises(ImproperlyConfigured, match="NoScopesView"):
        client.get("/no-scopes", **token(READ))


# -- required_scopes_by_method -------------------------------------------------------------


def test_scopes_by_method(client):
    assert client.get("/by-method", **token(READ)).status_code == HTTPStatus.OK
    assert_insufficient(client.get("/by-method", **token(WRITE)), READ)
    # The map's keys are case-insensitive: "post" in the view.
    assert client.post("/by-method", **token(WRITE)).status_code == HTTPStatus.CREATED
    assert_insufficient(client.post("/by-method", **token(READ)), WRITE)


def test_head_follows_get(client):
    assert client.head("/by-method", **token(READ)).status_code == HTTPStatus.OK
    assert_insufficient(client.head("/by-method", **token(WRITE)), READ)


@pytest.mark.parametrize("method", ["delete", "put", "patch", "options"])
def test_method_not_in_the_map_is_denied(client, method):
    response = getattr(client, method)("/by-method", **token(f"{READ} {WRITE}"))

    assert response.status_code == HTTPStatus.FORBIDDEN
    # No scope would help, so no insufficient_scope challenge sends the client for another token.
    assert "WWW-Authenticate" not in response
    assert response.json() == {"detail": "This HTTP method is not available to access tokens on this view."}


# -- HasScope --------------------------------------------------------------------------


def test_has_scope_on_its_own(client):
    assert client.get("/write", **token(WRITE)).status_code == HTTPStatus.OK
    assert_insufficient(client.get("/write", **token(READ)), WRITE)


def test_has_scope_by_method(client):
    assert client.get("/has-scope-by-method", **token(READ)).status_code == HTTPStatus.OK
    assert client.head("/has-scope-by-method", **token(READ)).status_code == HTTPStatus.OK
    assert_insufficient(client.delete("/has-scope-by-method", **token(READ)), WRITE)
    assert client.delete("/has-scope-by-method", **token(WRITE)).status_code == HTTPStatus.NO_CONTENT
    post = client.post("/has-scope-by-method", **token(f"{READ} {WRITE}"))
    assert post.status_code == HTTPStatus.FORBIDDEN
    assert "WWW-Authenticate" not in post


def test_and_composition(client):
    assert client.get("/and", **token(f"{READ} {WRITE}")).status_code == HTTPStatus.OK
    assert_insufficient(client.get("/and", **token(READ)), WRITE)
    assert_insufficient(client.get("/and", **token(WRITE)), READ)


def test_or_composition(client):
    assert client.get("/or", **token(WRITE)).status_code == HTTPStatus.OK
    assert client.get("/or", **token("admin")).status_code == HTTPStatus.OK
    response = client.get("/or", **token(READ))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_not_composition(client):
    assert client.get("/not", **token(READ)).status_code == HTTPStatus.OK
    assert client.get("/not", **token(None)).status_code == HTTPStatus.OK
    response = client.get("/not", **token(f"{READ} banned"))
    assert response.status_code == HTTPStatus.FORBIDDEN
    # Holding a scope is what denies here: more scopes can't help, so no challenge.
    assert "WWW-Authenticate" not in response


def test_compositions_without_a_token_are_401(client):
    for path in ("/and", "/or", "/not", "/write"):
        response = client.get(path)
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_composition_challenge_needs_no_exception_handler(client, settings):
    settings.REST_FRAMEWORK = WITHOUT_HANDLER
    assert_insufficient(client.get("/and", **token(READ)), WRITE)
    assert_insufficient(client.get("/write", **token(READ)), WRITE)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param((READ, WRITE), id="arguments"),
        pytest.param(([READ, WRITE],), id="list"),
        pytest.param((f"{READ} {WRITE}",), id="space-separated"),
        pytest.param(({"GET": [READ, WRITE]},), id="by-method"),
    ],
)
def test_has_scope_accepts_several_spellings(spec):
    permission = HasScope(*spec)()
    request = Request(APIRequestFactory().get("/"))
    view = _ReadView()

    request.user = M2MPrincipal(claims(scope=f"{READ} {WRITE}"))
    assert permission.has_permission(request, view) is True
    request.user = M2MPrincipal(claims(scope=READ))
    assert permission.has_permission(request, view) is False


@pytest.mark.parametrize("spec", [(), ("",), ([],), ({},)])
def test_has_scope_needs_a_scope(spec):
    with pytest.raises(ImproperlyConfigured):
        HasScope(*spec)


def test_scope_classes_deny_other_users():
    request = Request(APIRequestFactory().get("/"))
    request.user = None
    assert RequiredScopes().has_permission(request, _ReadView()) is False
    assert HasScope(READ)().has_permission(request, _ReadView()) is False
