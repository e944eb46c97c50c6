"""Remote mode against a hostile network or a dead issuer: no downgrade redirects, no keys trusted forever.

Real servers on loopback (tests/http_support.py, tests/remote_support.py); the clock is injected, never waited on.
No ``db`` fixture: remote mode runs no SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from logto_m2m_django.conf import m2m_settings
from logto_m2m_django.drf.remote import KeySetUnavailableError, RemoteKeySource
from tests.http_support import Certificate, make_certificate, serving, trust
from tests.remote_support import FakeClock, StubIssuer, logto_m2m_claims, new_key, stub_issuer
from tests.security.conftest import assert_invalid_token

SHOP = "https://shopping.api"


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: Any) -> Certificate:
    certificate = make_certificate(tmp_path)
    trust(monkeypatch, certificate)
    return certificate


def _jwks(keys: list[Any]) -> bytes:
    return json.dumps({"keys": [k.jwk() for k in keys]}).encode()


# -- redirects ------------------------------------------------------------------------------------


def test_https_jwks_redirected_to_plain_http_is_refused(certificate: Certificate) -> None:
    key = new_key()
    with serving(certificate=certificate) as tls, serving() as plain:
        plain.route("/jwks", 200, _jwks([key]))
        tls.redirect("/oidc/jwks", f"{plain.base_url}/jwks", status=302)
        source = RemoteKeySource(jwks_url=f"{tls.base_url}/oidc/jwks", timeout=2, cooldown=10, clock=FakeClock())
        with pytest.raises(KeySetUnavailableError):
            source.find(key.kid)
    assert plain.requests == []  # the downgraded URL was never fetched
    assert source.last_error is not None and "http://" in source.last_error


def test_https_discovery_redirected_to_plain_http_is_refused(certificate: Certificate) -> None:
    key = new_key()
    with serving(certificate=certificate) as tls, serving() as plain:
        issuer = f"{tls.base_url}/oidc"
        discovery = {"issuer": issuer, "jwks_uri": f"{issuer}/jwks"}
        plain.route("/discovery", 200, json.dumps(discovery).encode())
        tls.redirect("/oidc/.well-known/openid-configuration", f"{plain.base_url}/discovery", status=301)
        tls.route("/oidc/jwks", 200, _jwks([key]))
        source = RemoteKeySource(issuer=issuer, timeout=2, cooldown=10, clock=FakeClock())
        with pytest.raises(KeySetUnavailableError):
            source.find(key.kid)
    assert plain.requests == []


def test_https_to_https_redirect_is_followed(certificate: Certificate) -> None:
    # The control: what is refused above is the downgrade, not redirects as such.
    key = new_key()
    with serving(certificate=certificate) as tls, serving("127.0.0.2", certificate=certificate) as other:
        other.route("/keys", 200, _jwks([key]))
        tls.redirect("/oidc/jwks", f"{other.base_url}/keys", status=302)
        source = RemoteKeySource(jwks_url=f"{tls.base_url}/oidc/jwks", timeout=2, cooldown=10, clock=FakeClock())
        assert source.find(key.kid) is not None


@pytest.mark.urls("tests.remote_urls")
def test_downgrade_redirect_gives_401_through_drf(certificate: Certificate) -> None:
    key = new_key()
    with serving(certificate=certificate) as tls, serving() as plain:
        plain.route("/jwks", 200, _jwks([key]))
        tls.redirect("/oidc/jwks", f"{plain.base_url}/jwks")
        issuer = f"{tls.base_url}/oidc"
        settings = {"ISSUER": issuer, "KEY_SOURCE": "remote", "JWKS_URL": f"{issuer}/jwks"}
        with override_settings(LOGTO_M2M=settings):
            token = key.sign(logto_m2m_claims(issuer, SHOP))
            assert_invalid_token(APIClient().get("/shop", HTTP_AUTHORIZATION=f"Bearer {token}"))
    assert plain.requests == []


# -- bounded staleness ------------------------------------------------------------------------------

CLOCK = FakeClock()


class ClockedSource(RemoteKeySource):
    """``LOGTO_M2M["KEY_SOURCE"]`` for the tests below: the settings' remote source on the test's clock."""

    def __init__(self) -> None:
        super().__init__(clock=CLOCK)


@pytest.fixture
def stub() -> Iterator[StubIssuer]:
    with stub_issuer() as running:
        yield running


def test_max_stale_setting_defaults_to_an_hour() -> None:
    assert m2m_settings.JWKS_MAX_STALE_SECONDS == 3600


def test_known_keys_outlive_a_dead_jwks_only_for_the_stale_bound(stub: StubIssuer) -> None:
    clock = FakeClock()
    source = RemoteKeySource(issuer=stub.issuer, cache_seconds=300, timeout=2, cooldown=10, max_stale=600, clock=clock)
    kid = stub.keys[0].kid
    assert source.find(kid) is not None
    stub.mode = "down"
    clock.now += 300 + 599  # due for refresh since 599 s, the issuer can't be reached: the keys still hold
    assert source.find(kid) is not None
    assert source.last_error is not None
    clock.now += 2  # 601 s past due: they are no longer trusted
    with pytest.raises(KeySetUnavailableError, match="could not be refreshed"):
        source.find(kid)
    stub.mode = "ok"  # the issuer is back: its keys are trusted again at the next attempt
    clock.now += 10
    assert source.find(kid) is not None


def test_a_successful_refresh_restarts_the_stale_bound(stub: StubIssuer) -> None:
    clock = FakeClock()
    source = RemoteKeySource(issuer=stub.issuer, cache_seconds=300, timeout=2, cooldown=10, max_stale=600, clock=clock)
    kid = stub.keys[0].kid
    assert source.find(kid) is not None
    clock.now += 850  # past due, refreshed successfully
    assert source.find(kid) is not None
    stub.mode = "down"
    clock.now += 850  # 550 s past the new due time
    assert source.find(kid) is not None


@pytest.mark.urls("tests.remote_urls")
def test_cached_tokens_are_refused_too_once_the_keys_are_stale(stub: StubIssuer) -> None:
    settings = {
        "ISSUER": stub.issuer,
        "KEY_SOURCE": "tests.test_drf_remote_hardening.ClockedSource",
        "JWKS_CACHE_SECONDS": 300,
        "JWKS_MAX_STALE_SECONDS": 600,
        "UNKNOWN_KID_REFRESH_COOLDOWN": 10,
    }
    client = APIClient()
    with override_settings(LOGTO_M2M=settings):
        seen = f"Bearer {stub.keys[0].sign(logto_m2m_claims(stub.issuer, SHOP, lifetime=86400))}"
        assert client.get("/shop", HTTP_AUTHORIZATION=seen).status_code == HTTPStatus.OK
        stub.mode = "down"
        CLOCK.now += 300 + 500
        assert client.get("/shop", HTTP_AUTHORIZATION=seen).status_code == HTTPStatus.OK
        CLOCK.now += 200  # 700 s past due
        response = client.get("/shop", HTTP_AUTHORIZATION=seen)  # seen before, in the verified-token cache
        assert_invalid_token(response)
        assert "could not be refreshed" in response["WWW-Authenticate"]
        fresh = f"Bearer {stub.keys[0].sign(logto_m2m_claims(stub.issuer, SHOP))}"
        assert_invalid_token(client.get("/shop", HTTP_AUTHORIZATION=fresh))
