"""The DOT validator subclass: credential parsing, client authentication, grant checks, last-used stamps."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from oauth2_provider.models import get_application_model
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors

from logto_m2m_django import secrets
from logto_m2m_django.models import ApplicationSecret, M2MApplication, Resource
from logto_m2m_django.oauth import validator as v
from logto_m2m_django.oauth.errors import ExpiredSecretError, InvalidTargetError
from logto_m2m_django.provisioning import add_secret, create_application
from tests.conftest import SHOP

pytestmark = pytest.mark.django_db


def oauth_request(body=None, authorization=None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return Request("https://auth.example.com/oidc/token", "POST", urlencode(body or {}), headers)


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# -- parse_credentials ----------------------------------------------------------------------------


def test_parse_basic_credentials():
    credentials = v.parse_credentials(oauth_request(authorization=basic("app", "s3cret")))
    assert (credentials.client_id, credentials.secret, credentials.via_basic) == ("app", "s3cret", True)


def test_parse_basic_scheme_is_case_insensitive():
    credentials = v.parse_credentials(oauth_request(authorization=basic("app", "s").replace("Basic", "bAsIc")))
    assert credentials.client_id == "app"


def test_parse_basic_decodes_form_urlencoding():
    # RFC 6749 §2.3.1: "a%3Ab" is the client ID "a:b"; "+" is a space.
    credentials = v.parse_credentials(oauth_request(authorization=basic("a%3Ab", "x+y%2Bz")))
    assert (credentials.client_id, credentials.secret) == ("a:b", "x y+z")


def test_parse_post_credentials():
    credentials = v.parse_credentials(oauth_request({"client_id": "app", "client_secret": "s"}))
    assert (credentials.client_id, credentials.secret, credentials.via_basic) == ("app", "s", False)


def test_parse_no_credentials():
    credentials = v.parse_credentials(oauth_request({"grant_type": "client_credentials"}))
    assert (credentials.client_id, credentials.secret, credentials.via_basic) == (None, None, False)


def test_parse_both_methods_raises_invalid_request():
    with pytest.raises(oauthlib_errors.InvalidRequestError):
        v.parse_credentials(oauth_request({"client_secret": "s"}, authorization=basic("app", "s")))


def test_parse_different_body_client_id_raises_invalid_request():
    with pytest.raises(oauthlib_errors.InvalidRequestError):
        v.parse_credentials(oauth_request({"client_id": "other"}, authorization=basic("app", "s")))


@pytest.mark.parametrize(
    "header",
    ["Bearer x", "Basic", "Basic ???", "Basic " + base64.b64encode(b"nocolon").decode(), "Basic " + "A" * 2000],
)
def test_parse_unusable_authorization_header_gives_no_credentials(header):
    credentials = v.parse_credentials(oauth_request(authorization=header))
    assert (credentials.client_id, credentials.secret, credentials.via_basic) == (None, None, True)


# -- authenticate ---------------------------------------------------------------------------------------


@pytest.fixture
def app(db):
    m2m, secret = create_application("Validator app")
    return m2m, secret


def test_authenticate_with_the_default_secret(app):
    m2m, secret = app
    client = v.authenticate(v.ClientCredentials(m2m.client_id, secret, via_basic=True))
    assert client is not None
    assert (client.client_id, client.secret_id, client.is_m2m, client.is_enabled) == (m2m.client_id, None, True, True)


def test_authenticate_with_a_named_secret(app):
    m2m, _ = app
    row, named = add_secret(m2m, "ci")
    client = v.authenticate(v.ClientCredentials(m2m.client_id, named, via_basic=False))
    assert client is not None
    assert client.secret_id == row.pk


def test_authenticate_wrong_secret_and_unknown_client_return_none(app):
    m2m, secret = app
    assert v.authenticate(v.ClientCredentials(m2m.client_id, secret + "x", via_basic=True)) is None
    assert v.authenticate(v.ClientCredentials("unknown", secret, via_basic=True)) is None


@pytest.mark.parametrize("named", [0, 1, 2])
def test_unknown_client_costs_the_hash_checks_of_a_wrong_secret(app, monkeypatch, named):
    from logto_m2m_django import secrets as secrets_module

    m2m, secret = app
    for n in range(named):
        add_secret(m2m, f"named {n}")
    checks = []
    real = secrets_module.verify_secret

    def counting(value, encoded):
        checks.append(encoded)
        return real(value, encoded)

    monkeypatch.setattr(secrets_module, "verify_secret", counting)
    v.authenticate(v.ClientCredentials("unknown", secret, via_basic=True))
    unknown = len(checks)
    checks.clear()
    v.authenticate(v.ClientCredentials(m2m.client_id, "wrong", via_basic=True))
    assert unknown == len(checks) == secrets_module.MIN_HASHES_CHECKED


def test_unknown_client_reads_rows_of_the_same_shape(app, django_assert_num_queries):
    m2m, _ = app
    add_secret(m2m, "named")
    with django_assert_num_queries(1):
        known = v._load_client(m2m.client_id)
    with django_assert_num_queries(1):
        unknown = v._load_client("0" + m2m.client_id)
    assert [sorted(row) for row in unknown] == [sorted(row) for row in known]
    assert len(unknown) == len(known) == 1  # the only application stands in for the unknown ID


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("", "s"), ("app", ""), (None, "s"), ("app", None), ("a\x00b", "s"), ("app", "s\x00"), ("x" * 513, "s")],
)
def test_authenticate_refuses_implausible_credentials_without_a_query(
    app, client_id, secret, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert v.authenticate(v.ClientCredentials(client_id, secret, via_basic=True)) is None


def test_authenticate_expired_named_secret_raises(app):
    m2m, _ = app
    _, named = add_secret(m2m, "old", expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ExpiredSecretError) as info:
        v.authenticate(v.ClientCredentials(m2m.client_id, named, via_basic=True))
    assert info.value.description == "client secret has expired"
    assert info.value.error == "invalid_request"


def test_authenticate_accepts_a_secret_hashed_by_another_django_hasher(db):
    # Applications created before this package was installed keep DOT's PBKDF2 hash.
    get_application_model().objects.create(
        name="Legacy",
        client_id="legacy-app",
        client_secret=make_password("legacy-secret", hasher="pbkdf2_sha256"),
        client_type="confidential",
        authorization_grant_type="client-credentials",
    )
    client = v.authenticate(v.ClientCredentials("legacy-app", "legacy-secret", via_basic=True))
    assert client is not None
    assert client.is_m2m is False


def test_authenticate_never_matches_a_plaintext_stored_secret(db):
    get_application_model().objects.create(
        name="Plain",
        client_id="plain-app",
        client_secret="stored-in-plaintext",
        hash_client_secret=False,
        client_type="confidential",
        authorization_grant_type="client-credentials",
    )
    assert v.authenticate(v.ClientCredentials("plain-app", "stored-in-plaintext", via_basic=True)) is None


# -- the validator methods ----------------------------------------------------------------------------


def test_validator_answers_for_client_credentials_only():
    validator = v.M2MOAuth2Validator()
    request = oauth_request()
    assert validator.client_authentication_required(request) is True
    assert validator.authenticate_client_id("anyone", request) is False
    assert validator.get_default_scopes("anyone", request) == []


def test_authenticate_client_sets_the_client(app):
    m2m, secret = app
    request = oauth_request(authorization=basic(m2m.client_id, secret))
    assert v.M2MOAuth2Validator().authenticate_client(request) is True
    assert request.client.client_id == request.client_id == m2m.client_id


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"is_m2m": False}, "The client is not a machine-to-machine app."),
        ({"is_enabled": False}, "The application is disabled."),
        ({"grant_type": "authorization-code"}, "The client is not a confidential client_credentials app."),
        ({"client_type": "public"}, "The client is not a confidential client_credentials app."),
    ],
)
def test_validate_grant_type_refuses_with_a_description(change, description):
    fields = {
        "pk": 1,
        "client_id": "app",
        "is_m2m": True,
        "is_enabled": True,
        "grant_type": "client-credentials",
        "client_type": "confidential",
        "secret_id": None,
        "last_used_at": None,
    }
    client = v.AuthenticatedClient(**{**fields, **change})
    with pytest.raises(oauthlib_errors.UnauthorizedClientError) as info:
        v.M2MOAuth2Validator().validate_grant_type("app", "client_credentials", client, oauth_request())
    assert info.value.description == description
    ok = v.AuthenticatedClient(**fields)
    assert v.M2MOAuth2Validator().validate_grant_type("app", "client_credentials", ok, oauth_request()) is True


def _scopes_request(shop, resource=SHOP):
    request = oauth_request({"grant_type": "client_credentials", "resource": resource})
    client = v.authenticate(v.ClientCredentials(shop.client_id, shop.secret, via_basic=True))
    return request, client


def test_validate_scopes_intersects_with_the_grant(shop):
    request, client = _scopes_request(shop)
    scopes = ["write:products", "read:products", "", "read:products"]
    assert v.M2MOAuth2Validator().validate_scopes(shop.client_id, scopes, client, request) is True
    assert request.scopes == ["read:products"]
    assert request.m2m_grant.indicator == SHOP
    assert v.token_lifetime(request) == 3600


def test_validate_scopes_with_nothing_granted_leaves_scopes_none(shop):
    request, client = _scopes_request(shop)
    v.M2MOAuth2Validator().validate_scopes(shop.client_id, ["write:products"], client, request)
    assert request.scopes is None


def test_validate_scopes_without_resource_uses_the_default(shop):
    Resource.objects.filter(pk=shop.resource.pk).update(is_default=True, access_token_ttl=60)
    request = oauth_request({"grant_type": "client_credentials"})
    client = v.authenticate(v.ClientCredentials(shop.client_id, shop.secret, via_basic=True))
    v.M2MOAuth2Validator().validate_scopes(shop.client_id, [], client, request)
    assert request.m2m_grant.indicator == SHOP
    assert v.token_lifetime(request) == 60


@pytest.mark.parametrize("resource", ["https://unknown.api", "relative/path", "https://shopping.api#x"])
def test_validate_scopes_refuses_bad_resources(shop, resource):
    request, client = _scopes_request(shop, resource)
    with pytest.raises(InvalidTargetError):
        v.M2MOAuth2Validator().validate_scopes(shop.client_id, [], client, request)


def test_save_bearer_token_writes_no_token_row(shop):
    from oauth2_provider.models import AccessToken

    request, client = _scopes_request(shop)
    request.client = client
    v.M2MOAuth2Validator().save_bearer_token({"access_token": "x"}, request)
    assert AccessToken.objects.count() == 0
    assert M2MApplication.objects.get(pk=shop.app.pk).last_used_at is not None


# -- stamp_last_used ----------------------------------------------------------------------------------------


def _client(m2m, secret_id=None, last_used_at=None):
    return v.AuthenticatedClient(
        pk=m2m.pk,
        client_id=m2m.client_id,
        is_m2m=True,
        is_enabled=True,
        grant_type="client-credentials",
        client_type="confidential",
        secret_id=secret_id,
        last_used_at=last_used_at,
    )


def test_stamp_last_used_writes_when_never_used(app, django_assert_num_queries):
    m2m, _ = app
    with django_assert_num_queries(1):
        v.stamp_last_used(_client(m2m))
    assert M2MApplication.objects.get(pk=m2m.pk).last_used_at is not None


def test_stamp_last_used_skips_a_recent_stamp(app, django_assert_num_queries):
    m2m, _ = app
    with django_assert_num_queries(0):
        v.stamp_last_used(_client(m2m, last_used_at=timezone.now() - timedelta(seconds=59)))


def test_stamp_last_used_writes_an_old_stamp_on_the_named_secret(app, django_assert_num_queries):
    m2m, _ = app
    row, _ = add_secret(m2m, "ci")
    with django_assert_num_queries(1):
        v.stamp_last_used(_client(m2m, secret_id=row.pk, last_used_at=timezone.now() - timedelta(seconds=61)))
    assert ApplicationSecret.objects.get(pk=row.pk).last_used_at is not None
    assert M2MApplication.objects.get(pk=m2m.pk).last_used_at is None


def test_dummy_hash_never_matches():
    assert secrets.verify_secret("", secrets.DUMMY_HASH) is False
    assert secrets.verify_secret("anything", secrets.DUMMY_HASH) is False
