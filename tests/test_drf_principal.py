"""M2MPrincipal: request.user for a token-authenticated request, and request.auth."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from rest_framework.test import APIClient

from logto_m2m_django.drf import M2MPrincipal
from logto_m2m_django.keys import key_store

from .drf_support import AUDIENCE, CLIENT_ID, ISSUER, OMIT, READ, WRITE, bearer, claims, signed


@pytest.mark.django_db
@pytest.mark.urls("tests.drf_support")
def test_request_user_and_auth_over_http():
    key_store.signing_material()
    sent = claims(scope=f"{READ} {WRITE}", aud=[AUDIENCE, "https://other.api"], custom="kept")

    response = APIClient().get("/authenticated", **bearer(signed(sent)))

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["user"] == "M2MPrincipal"
    assert body["client_id"] == CLIENT_ID
    assert body["scopes"] == [READ, WRITE]
    assert body["audience"] == [AUDIENCE, "https://other.api"]
    # request.auth holds every validated claim, unknown ones included.
    assert body["claims"] == sent


def test_principal_is_an_authenticated_non_database_user():
    principal = M2MPrincipal(claims(scope=f"{READ} {WRITE}"))

    assert principal.is_authenticated is True
    assert principal.is_anonymous is False
    assert principal.is_active is True
    assert principal.is_staff is False
    assert principal.is_superuser is False
    assert principal.pk is None
    assert principal.id is None
    assert principal.client_id == CLIENT_ID
    assert principal.username == principal.get_username() == CLIENT_ID
    assert principal.scopes == frozenset({READ, WRITE})
    assert principal.audience == (AUDIENCE,)
    assert principal.claims["iss"] == ISSUER


def test_principal_has_no_django_permissions():
    principal = M2MPrincipal(claims(scope="all"))

    assert principal.has_perm("auth.add_user") is False
    assert principal.has_perms(["auth.add_user"]) is False
    assert principal.has_module_perms("auth") is False


def test_has_scope_needs_every_scope():
    principal = M2MPrincipal(claims(scope=f"{READ} {WRITE}"))

    assert principal.has_scope(READ)
    assert principal.has_scope(READ, WRITE)
    assert not principal.has_scope(READ, "admin")
    assert principal.has_scope()


@pytest.mark.parametrize("scope", [OMIT, "", "   "])
def test_no_scope_claim_means_no_scopes(scope):
    principal = M2MPrincipal(claims(scope=scope))

    assert principal.scopes == frozenset()
    assert not principal.has_scope(READ)


def test_scope_claim_splits_on_any_whitespace():
    assert M2MPrincipal(claims(scope=f" {READ}  {WRITE} ")).scopes == frozenset({READ, WRITE})


def test_text_forms():
    principal = M2MPrincipal(claims(scope=f"{WRITE} {READ}"))

    assert str(principal) == f"M2M application {CLIENT_ID}"
    assert repr(principal) == f"<M2MPrincipal client_id={CLIENT_ID!r} scopes={[READ, WRITE]!r}>"


def test_equality_follows_the_claims():
    sent = claims()

    assert M2MPrincipal(sent) == M2MPrincipal(dict(sent))
    assert hash(M2MPrincipal(sent)) == hash(M2MPrincipal(dict(sent)))
    assert M2MPrincipal(sent) != M2MPrincipal(claims(jti="another"))
    assert M2MPrincipal(sent) != CLIENT_ID
    assert len({M2MPrincipal(sent), M2MPrincipal(dict(sent))}) == 1
