"""JWTAccessTokenAuthentication: every validation rule of DESIGN.md section 5, seen over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from logto_m2m_django import keys as keys_module
from logto_m2m_django.drf import JWTAccessTokenAuthentication
from logto_m2m_django.keys import key_store
from logto_m2m_django.models import KeyStatus, SigningKey
from logto_m2m_django.tokens import SigningMaterial

from .drf_support import AUDIENCE, ISSUER, OMIT, READ, b64, bearer, claims, forged, hs256_with, signed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.drf_support")]

BARE_CHALLENGE = 'Bearer realm="api"'
INVALID_PREFIX = 'Bearer realm="api", error="invalid_token", error_description="'


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def material(db: Any) -> SigningMaterial:
    """The Current signing key; loading it also fills the process's key cache."""
    return key_store.signing_material()


def description_of(response: Any) -> str:
    """The error_description of an invalid_token challenge (asserting its format)."""
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith(INVALID_PREFIX), challenge
    assert challenge.endswith('"'), challenge
    description = challenge[len(INVALID_PREFIX) : -1]
    # RFC 6750 §3: error_description must not contain '"' or '\'.
    assert '"' not in description
    assert "\\" not in description
    return description


def assert_refused(response: Any, fragment: str) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.content
    description = description_of(response)
    assert fragment in description, description
    assert response.json()["detail"] == response.json()["detail"].strip()


# -- accepted ----------------------------------------------------------------------


def test_valid_token_is_accepted(client, material):
    response = client.get("/read", **bearer(signed()))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["user"] == "M2MPrincipal"
    assert "WWW-Authenticate" not in response


def test_token_from_the_token_endpoint_is_accepted(client, access_token):
    response = client.get("/read", **bearer(access_token))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["scopes"] == [READ]


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(client, material, scheme):
    # RFC 7235 §2.1: auth-scheme names are case-insensitive.
    response = client.get("/read", HTTP_AUTHORIZATION=f"{scheme} {signed()}")

    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT", "Application/At+Jwt"])
def test_access_token_types_are_accepted(client, material, typ):
    # RFC 9068 §2.1 / RFC 7515 §4.1.9: "at+jwt" or the full media type, case-insensitive.
    response = client.get("/read", **bearer(signed(typ=typ)))

    assert response.status_code == HTTPStatus.OK


def test_audience_list_containing_the_view_audience_is_accepted(client, material):
    token = signed(claims(aud=["https://other.api", AUDIENCE]))

    response = client.get("/read", **bearer(token))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["audience"] == ["https://other.api", AUDIENCE]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"exp": -5, "iat": -3605}, id="expired-inside-leeway"),
        pytest.param({"nbf": 5}, id="nbf-inside-leeway"),
        pytest.param({"iat": 5, "exp": 3605}, id="iat-inside-leeway"),
    ],
)
def test_clock_skew_inside_the_leeway_is_tolerated(client, material, overrides):
    # LEEWAY is 30 s by default; these claims are 5 s off.
    now = int(time.time())
    token = signed(claims(**{name: now + offset for name, offset in overrides.items()}))

    response = client.get("/read", **bearer(token))

    assert response.status_code == HTTPStatus.OK


def test_token_without_scope_claim_authenticates_with_no_scopes(client, material):
    response = client.get("/authenticated", **bearer(signed(claims(scope=OMIT))))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["scopes"] == []


def test_far_future_expiry_does_not_crash(client, material):
    # A NumericDate too large for a float must not turn into a 500.
    response = client.get("/read", **bearer(signed(claims(exp=10**400))))

    assert response.status_code == HTTPStatus.OK


# -- no token / other schemes ----------------------------------------------------------


def test_no_token_gets_the_bare_challenge(client, material):
    response = client.get("/read")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    # RFC 6750 §3.1: no error code when the request carried no token.
    assert response["WWW-Authenticate"] == BARE_CHALLENGE


@pytest.mark.parametrize("header", ["Basic b3JkZXI6c2VjcmV0", "Token abc", "DPoP abc.def.ghi", "Bearerabc.def"])
def test_another_scheme_is_left_to_other_classes(client, material, header):
    request = Request(APIRequestFactory().get("/read", HTTP_AUTHORIZATION=header))
    assert JWTAccessTokenAuthentication().authenticate(request) is None

    response = client.get("/read", HTTP_AUTHORIZATION=header)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == BARE_CHALLENGE


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a.b.c d.e.f", "Bearer a.b.c,d.e.f"])
def test_malformed_bearer_header_is_refused(client, material, header):
    response = client.get("/read", HTTP_AUTHORIZATION=header)

    assert_refused(response, "Bearer <token>")


def test_challenge_format_for_an_invalid_token(client, material):
    response = client.get("/read", **bearer(signed(typ="JWT")))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="The token type (typ) is not \'at+jwt\'."'
    )
    assert response.json() == {"detail": 'The token type (typ) is not "at+jwt".'}


def test_realm_follows_the_setting(client, material, settings):
    settings.LOGTO_M2M = {"ISSUER": ISSUER, "REALM": "shop"}

    assert client.get("/read")["WWW-Authenticate"] == 'Bearer realm="shop"'
    assert client.get("/read", **bearer("x.y.z"))["WWW-Authenticate"].startswith('Bearer realm="shop", error=')


# -- algorithm and key --------------------------------------------------------------------


def _public_pem(material: SigningMaterial) -> bytes:
    return material.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_alg_none_is_refused(client, material):
    token = forged({"alg": "none", "typ": "at+jwt", "kid": material.kid}, claims())

    assert_refused(client.get("/read", **bearer(token)), "algorithm is not accepted")


def test_hmac_with_the_public_key_as_secret_is_refused(client, material):
    # RFC 8725 §2.1: the classic key-confusion attack.
    token = hs256_with(_public_pem(material), {"alg": "HS256", "typ": "at+jwt", "kid": material.kid}, claims())

    assert_refused(client.get("/read", **bearer(token)), "algorithm is not accepted")


def test_hmac_is_refused_even_when_listed_in_the_accepted_algorithms(client, material, settings):
    settings.LOGTO_M2M = {"ISSUER": ISSUER, "ACCEPTED_ALGORITHMS": ["ES384", "HS256"]}
    token = hs256_with(_public_pem(material), {"alg": "HS256", "typ": "at+jwt", "kid": material.kid}, claims())

    assert_refused(client.get("/read", **bearer(token)), "algorithm is not accepted")


def test_header_alg_other_than_the_keys_is_refused(client, db):
    # An RSA key registered for RS256 also produces valid PS256 signatures; the header must not choose.
    key_store.rotate("RS256")
    rsa = key_store.signing_material()
    token = signed(material=rsa, algorithm="PS256")

    assert_refused(APIClient().get("/read", **bearer(token)), "does not match its key")
    assert APIClient().get("/read", **bearer(signed(material=rsa))).status_code == HTTPStatus.OK


def test_algorithm_outside_the_accepted_list_is_refused(client, material, settings):
    settings.LOGTO_M2M = {"ISSUER": ISSUER, "ACCEPTED_ALGORITHMS": ["RS256"]}

    assert_refused(client.get("/read", **bearer(signed())), "algorithm is not accepted")


def test_token_signed_by_another_key_with_a_known_kid_is_refused(client, material):
    stranger = SigningMaterial(material.kid, "ES384", ec.generate_private_key(ec.SECP384R1()))

    assert_refused(client.get("/read", **bearer(signed(material=stranger))), "signature is invalid")


def test_tampered_payload_is_refused(client, material):
    header, _payload, signature = signed().split(".")
    payload = b64(b'{"scope": "read:products write:products"}')

    assert_refused(client.get("/read", **bearer(f"{header}.{payload}.{signature}")), "signature is invalid")


@pytest.mark.parametrize("kid", [OMIT, "", 42, "k" * 300])
def test_unusable_kid_is_refused(client, material, kid):
    assert_refused(client.get("/read", **bearer(signed(kid=kid))), "key ID (kid)")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """The key store's monotonic clock, moved by hand; returns a function that advances it."""
    now = [1_000_000.0]
    monkeypatch.setattr(keys_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(key_store, "_last_unknown_refresh", -1e9)
    key_store.invalidate()

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


def _stranger(kid: str) -> SigningMaterial:
    return SigningMaterial(kid, "ES384", ec.generate_private_key(ec.SECP384R1()))


def test_unknown_kid_reloads_the_keys_once_and_is_rate_limited(client, clock, django_assert_num_queries, settings, db):
    settings.LOGTO_M2M = {"ISSUER": ISSUER, "UNKNOWN_KID_REFRESH_COOLDOWN": 10}
    key_store.signing_material()

    with django_assert_num_queries(1):  # the one reload
        assert_refused(client.get("/read", **bearer(signed(material=_stranger("unknown-1")))), "unknown key")
    with django_assert_num_queries(0):  # inside the cooldown: no reload
        assert_refused(client.get("/read", **bearer(signed(material=_stranger("unknown-2")))), "unknown key")
    clock(11)
    with django_assert_num_queries(1):
        assert_refused(client.get("/read", **bearer(signed(material=_stranger("unknown-3")))), "unknown key")


def test_key_added_by_another_process_is_found_by_the_reload(client, clock, django_assert_num_queries, db):
    key_store.signing_material()
    # Another process stages a key: this process's cache does not know it yet.
    row = keys_module._new_key_row("ES384", KeyStatus.NEXT)
    row.save()
    newcomer = SigningMaterial(row.kid, row.algorithm, keys_module._decrypt(row.private_key_encrypted))

    with django_assert_num_queries(1):
        response = client.get("/read", **bearer(signed(material=newcomer)))

    assert response.status_code == HTTPStatus.OK
    with django_assert_num_queries(0):
        assert client.get("/read", **bearer(signed(material=newcomer))).status_code == HTTPStatus.OK


def test_keys_are_read_again_after_the_key_cache_period(client, clock, django_assert_num_queries, settings, db):
    settings.LOGTO_M2M = {"ISSUER": ISSUER, "KEY_CACHE_SECONDS": 300}
    key_store.signing_material()

    with django_assert_num_queries(0):
        assert client.get("/read", **bearer(signed())).status_code == HTTPStatus.OK
    clock(301)
    with django_assert_num_queries(1):
        assert client.get("/read", **bearer(signed())).status_code == HTTPStatus.OK
    with django_assert_num_queries(0):
        assert client.get("/read", **bearer(signed())).status_code == HTTPStatus.OK


def test_previous_key_tokens_still_validate_after_rotation(client, material):
    seen = signed()
    unseen = signed()
    assert client.get("/read", **bearer(seen)).status_code == HTTPStatus.OK

    key_store.rotate()

    assert SigningKey.objects.get(kid=material.kid).status == KeyStatus.PREVIOUS
    assert key_store.signing_material().kid != material.kid
    assert client.get("/read", **bearer(seen)).status_code == HTTPStatus.OK
    assert client.get("/read", **bearer(unseen)).status_code == HTTPStatus.OK
    assert client.get("/read", **bearer(signed())).status_code == HTTPStatus.OK


def test_token_of_a_deleted_key_is_refused(client, material, clock):
    token = signed()
    key_store.rotate()
    key_store.rotate()  # the first key falls out of the set

    assert_refused(client.get("/read", **bearer(token)), "unknown key")


# -- header and claims ------------------------------------------------------------------------


@pytest.mark.parametrize("typ", [OMIT, "JWT", "jwt", "at+jwt2", "application/jwt", 1, ""])
def test_wrong_or_missing_typ_is_refused(client, material, typ):
    # RFC 9068 §4: resource servers MUST check typ, which stops ID tokens being replayed as access tokens.
    assert_refused(client.get("/read", **bearer(signed(typ=typ))), "token type (typ)")


@pytest.mark.parametrize("iss", ["https://evil.example.com/oidc", f"{ISSUER}/", ISSUER.upper(), 7])
def test_wrong_issuer_is_refused(client, material, iss):
    response = client.get("/read", **bearer(signed(claims(iss=iss))))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "(iss)" in description_of(response) or "malformed" in description_of(response)


@pytest.mark.parametrize(
    "aud",
    [
        "https://other.api",
        f"{AUDIENCE}/",
        ["https://other.api"],
        ["https://other.api", "https://third.api"],
    ],
)
def test_audience_not_matching_the_view_is_refused(client, material, aud):
    assert_refused(client.get("/read", **bearer(signed(claims(aud=aud)))), "not meant for this API (aud)")


def test_already_verified_token_is_still_checked_against_each_views_audience(
    client, material, django_assert_num_queries
):
    token = signed()
    assert client.get("/read", **bearer(token)).status_code == HTTPStatus.OK

    with django_assert_num_queries(0):
        response = client.get("/other-audience", **bearer(token))

    assert_refused(response, "not meant for this API (aud)")
    assert client.get("/read", **bearer(token)).status_code == HTTPStatus.OK


def test_view_audience_wins_over_the_setting(client, material, settings):
    settings.LOGTO_M2M = {"ISSUER": ISSUER, "AUDIENCE": "https://other.api"}
    token = signed()

    assert client.get("/read", **bearer(token)).status_code == HTTPStatus.OK
    assert_refused(client.get("/no-audience", **bearer(token)), "not meant for this API (aud)")


def test_expired_token_is_refused(client, material):
    now = int(time.time())
    token = signed(claims(iat=now - 7200, exp=now - 3600))

    assert_refused(client.get("/read", **bearer(token)), "expired")


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_token_from_the_future_is_refused(client, material, claim):
    now = int(time.time())
    overrides = {claim: now + 120, "exp": now + 3720}

    assert_refused(client.get("/read", **bearer(signed(claims(**overrides)))), "not valid yet")


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "sub", "client_id", "jti"])
def test_each_required_claim_is_required(client, material, claim):
    response = client.get("/read", **bearer(signed(claims(**{claim: OMIT}))))

    assert_refused(response, f"lacks the required '{claim}' claim")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"scope": ["read:products"]}, id="scope-list"),
        pytest.param({"scope": 1}, id="scope-number"),
        pytest.param({"scope": {"read": True}}, id="scope-object"),
        pytest.param({"client_id": ["a"]}, id="client_id-list"),
        pytest.param({"client_id": 7}, id="client_id-number"),
    ],
)
def test_claims_of_the_wrong_type_are_refused(client, material, overrides):
    assert_refused(client.get("/read", **bearer(signed(claims(**overrides)))), "is not a string")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"sub": 123}, id="sub-number"),
        pytest.param({"jti": None}, id="jti-null"),
        pytest.param({"jti": 5}, id="jti-number"),
        pytest.param({"aud": []}, id="aud-empty-list"),
        pytest.param({"aud": [1, 2]}, id="aud-numbers"),
        pytest.param({"iss": None}, id="iss-null"),
    ],
)
def test_other_malformed_claims_are_refused(client, material, overrides):
    response = client.get("/read", **bearer(signed(claims(**overrides))))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    description_of(response)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"exp": "tomorrow"}, id="exp-text"),
        pytest.param({"iat": "now"}, id="iat-text"),
        pytest.param({"nbf": []}, id="nbf-list"),
    ],
)
def test_malformed_time_claims_are_refused(client, material, overrides):
    response = client.get("/read", **bearer(signed(claims(**overrides))))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    description_of(response)


# -- structure ---------------------------------------------------------------------------


def test_oversize_token_is_refused_before_parsing(client, material, django_assert_num_queries):
    token = signed(claims(padding="x" * 9000))

    with django_assert_num_queries(0):
        response = client.get("/read", **bearer(token))

    assert_refused(response, "too large")


def test_token_size_limit_follows_the_setting(client, material, settings):
    token = signed()
    settings.LOGTO_M2M = {"ISSUER": ISSUER, "MAX_TOKEN_LENGTH": len(token) - 1}

    assert_refused(client.get("/read", **bearer(token)), "too large")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("abc", id="one-part"),
        pytest.param("abc.def", id="two-parts"),
        pytest.param("a.b.c.d", id="four-parts"),
        pytest.param("!!!.e30.sig", id="bad-base64"),
        pytest.param(f"{b64(b'not json')}.e30.sig", id="header-not-json"),
        pytest.param(f"{b64(b'[1, 2]')}.e30.sig", id="header-not-object"),
        pytest.param(f"{b64(b'{}')}.e30.sig", id="empty-header"),
        pytest.param(f"{b64(bytes([0xFF, 0xFE]))}.e30.sig", id="header-not-utf8"),
        pytest.param("\u00e9t\u00e9.e30.sig", id="non-ascii"),
        pytest.param("..", id="empty-parts"),
    ],
)
def test_malformed_token_is_refused_without_queries(client, material, token, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/read", **bearer(token))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    description_of(response)


def test_the_refusal_challenge_follows_a_change_of_realm(client, material, settings):
    # The challenge for a description is built once; a settings change must not leave the old realm in it.
    assert_refused(client.get("/read", **bearer("not-a-jwt.e30.c2ln")), "not a JSON object")
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "REALM": "shop"}

    response = client.get("/read", **bearer("not-a-jwt.e30.c2ln"))

    assert response["WWW-Authenticate"] == (
        'Bearer realm="shop", error="invalid_token", error_description="The token header is not a JSON object."'
    )


def test_bad_payload_encoding_is_refused(client, material):
    header = signed().split(".")[0]

    assert_refused(client.get("/read", **bearer(f"{header}.!!!.sig")), "")


# -- cost -------------------------------------------------------------------------------


def test_valid_request_runs_no_query_at_first_sight_and_when_cached(client, material, django_assert_num_queries):
    token = signed()

    with django_assert_num_queries(0):
        first = client.get("/read", **bearer(token))
    with django_assert_num_queries(0):
        again = client.get("/read", **bearer(token))

    assert first.status_code == again.status_code == HTTPStatus.OK
    assert first.json() == again.json()


def test_refused_request_runs_no_query(client, material, django_assert_num_queries):
    now = int(time.time())
    with django_assert_num_queries(0):
        response = client.get("/read", **bearer(signed(claims(iat=now - 7200, exp=now - 3600))))

    assert response.status_code == HTTPStatus.UNAUTHORIZED


# -- configuration ---------------------------------------------------------------------


def test_view_without_audience_is_improperly_configured(client, material):
    with pytest.raises(ImproperlyConfigured, match="NoAudienceView"):
        client.get("/no-audience", **bearer(signed()))


def test_audience_setting_serves_views_without_their_own(client, material, settings):
    settings.LOGTO_M2M = {"ISSUER": ISSUER, "AUDIENCE": AUDIENCE}

    assert client.get("/no-audience", **bearer(signed())).status_code == HTTPStatus.OK
