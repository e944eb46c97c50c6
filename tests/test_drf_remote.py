"""Remote mode: keys from the issuer's JWKS over HTTP (logto_m2m_django.drf.remote).

The tests below run without the ``db`` fixture: any SQL query would fail them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings
from rest_framework.test import APIClient

from logto_m2m_django import tokens
from logto_m2m_django.drf import remote, validation
from logto_m2m_django.drf.remote import KeySetUnavailableError, RemoteKeySource, parse_jwks
from tests.remote_support import FakeClock, StubIssuer, logto_m2m_claims, new_key, stub_issuer

SHOP = "https://shopping.api"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def stub() -> Iterator[StubIssuer]:
    with stub_issuer() as running:
        yield running


def remote_settings(stub: StubIssuer, **extra: Any) -> override_settings:
    return override_settings(LOGTO_M2M={"ISSUER": stub.issuer, "KEY_SOURCE": "remote", **extra})


def token_for(stub: StubIssuer, key_index: int = 0, **claims: Any) -> str:
    return stub.keys[key_index].sign(logto_m2m_claims(stub.issuer, SHOP, **claims))


def source_for(stub: StubIssuer, clock: FakeClock, **kwargs: Any) -> RemoteKeySource:
    options: dict[str, Any] = {"cache_seconds": 300, "timeout": 2, "cooldown": 10}
    options.update(kwargs)
    return RemoteKeySource(issuer=stub.issuer, clock=clock, **options)


def verify(source: RemoteKeySource, token: str, issuer: str) -> dict[str, Any]:
    return tokens.verify(
        token, source.find, issuer=issuer, audience=SHOP, algorithms=["ES384", "RS256"], leeway=0, max_length=8192
    )


# -- through DRF, configured by settings ----------------------------------------------------------


@pytest.mark.urls("tests.remote_urls")
def test_remote_mode_validates_from_discovered_jwks_without_refetching(stub: StubIssuer) -> None:
    client = APIClient()
    with remote_settings(stub):
        for _ in range(5):
            # Fresh tokens each time, so that each one is verified against the keys, not the token cache.
            response = client.get("/shop", HTTP_AUTHORIZATION=f"Bearer {token_for(stub)}")
            assert response.status_code == HTTPStatus.OK, response.content
        assert response.json() == {"client_id": "m2m-app-7h2kq9", "scopes": ["read:products"]}
        assert isinstance(validation.get_validator().key_source, RemoteKeySource)
    # One discovery and one JWKS fetch served all five requests.
    assert stub.hits == {"/oidc/.well-known/openid-configuration": 1, "/oidc/jwks": 1}


@pytest.mark.urls("tests.remote_urls")
def test_explicit_jwks_url_skips_discovery(stub: StubIssuer) -> None:
    with remote_settings(stub, JWKS_URL=stub.jwks_url):
        response = APIClient().get("/shop", HTTP_AUTHORIZATION=f"Bearer {token_for(stub)}")
    assert response.status_code == HTTPStatus.OK
    assert stub.hits == {"/oidc/jwks": 1}


@pytest.mark.urls("tests.remote_urls")
def test_unreachable_jwks_gives_401_not_500(stub: StubIssuer) -> None:
    stub.mode = "down"
    client = APIClient()
    with remote_settings(stub):
        first = client.get("/shop", HTTP_AUTHORIZATION=f"Bearer {token_for(stub)}")
        second = client.get("/shop", HTTP_AUTHORIZATION=f"Bearer {token_for(stub)}")
    for response in (first, second):
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
        assert "can't be fetched" in response.json()["detail"]
    # The second request did not try again: one attempt per cooldown.
    assert sum(stub.hits.values()) == 1


def test_default_key_source_is_local_where_the_app_is_installed() -> None:
    from logto_m2m_django.keys import key_store

    with override_settings(LOGTO_M2M={"ISSUER": "https://auth.example.com/oidc"}):
        assert validation.key_source_setting() == "local"
        assert validation.default_key_source() is key_store
    with override_settings(LOGTO_M2M={"ISSUER": "https://auth.example.com/oidc", "KEY_SOURCE": "remote"}):
        assert isinstance(validation.default_key_source(), RemoteKeySource)


def test_default_key_source_is_remote_without_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.apps import apps

    real = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: False if name == "logto_m2m_django" else real(name))
    with override_settings(LOGTO_M2M={"ISSUER": "https://auth.example.com/oidc"}):
        assert validation.key_source_setting() == "remote"


# -- the key source itself ------------------------------------------------------------------------


def test_new_kid_is_fetched_once_and_old_key_keeps_working(stub: StubIssuer) -> None:
    clock = FakeClock()
    source = source_for(stub, clock)
    old_token = token_for(stub)
    assert verify(source, old_token, stub.issuer)["sub"] == "m2m-app-7h2kq9"
    version = source.version
    # The issuer rotates: a new key signs, the old one stays published as Previous.
    stub.keys.insert(0, new_key())
    new_token = token_for(stub, 0)
    assert verify(source, new_token, stub.issuer)["iss"] == stub.issuer
    assert verify(source, old_token, stub.issuer)["iss"] == stub.issuer
    assert stub.hits["/oidc/jwks"] == 2  # one refresh for the new kid
    assert stub.hits["/oidc/.well-known/openid-configuration"] == 1  # the jwks_uri is remembered
    assert source.version == version + 1


def test_removed_key_stops_validating_after_the_cache_lifetime(stub: StubIssuer) -> None:
    clock = FakeClock()
    source = source_for(stub, clock, cache_seconds=300)
    retiring = stub.keys[0]
    token = token_for(stub)
    verify(source, token, stub.issuer)
    stub.keys[:] = [new_key()]
    clock.advance(299)
    verify(source, token, stub.issuer)  # still cached: no fetch yet
    assert stub.hits["/oidc/jwks"] == 1
    clock.advance(2)
    with pytest.raises(tokens.UnknownKeyError):
        verify(source, retiring.sign(logto_m2m_claims(stub.issuer, SHOP)), stub.issuer)
    assert stub.hits["/oidc/jwks"] == 2


@pytest.mark.urls("tests.remote_urls")
def test_verified_token_cache_is_dropped_when_the_key_set_changes(stub: StubIssuer) -> None:
    clock = FakeClock()
    client = APIClient()
    token = token_for(stub)
    with remote_settings(stub):
        source = source_for(stub, clock)
        validation._validator = validation.TokenValidator(source)
        assert client.get("/shop", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == HTTPStatus.OK
        stub.keys[:] = [new_key()]
        assert client.get("/shop", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == HTTPStatus.OK  # cached
        clock.advance(301)
        source.find("any-kid")  # a request signed by the new key arrives and refreshes the set
        response = client.get("/shop", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["detail"] == "The token was signed by an unknown key."


def test_unknown_kids_cause_one_fetch_per_cooldown(stub: StubIssuer) -> None:
    clock = FakeClock()
    source = source_for(stub, clock, cooldown=10)
    assert source.find(stub.keys[0].kid) is not None
    assert stub.hits["/oidc/jwks"] == 1
    for n in range(50):
        assert source.find(f"made-up-{n}") is None
    assert stub.hits["/oidc/jwks"] == 2
    clock.advance(10)
    assert source.find("made-up-again") is None
    assert stub.hits["/oidc/jwks"] == 3


def test_unreachable_endpoint_keeps_known_keys_and_refuses_unknown_kids(stub: StubIssuer) -> None:
    clock = FakeClock()
    source = source_for(stub, clock, cache_seconds=300, cooldown=10)
    known = token_for(stub)
    verify(source, known, stub.issuer)
    stub.mode = "down"
    clock.advance(301)  # the cache is due for a refresh, which fails
    for _ in range(20):
        verify(source, token_for(stub), stub.issuer)
    with pytest.raises(KeySetUnavailableError):
        source.find("rotated-kid")
    assert stub.hits["/oidc/jwks"] == 2  # the one failed refresh; nothing per request
    assert source.last_error is not None and "503" in source.last_error
    # Back up: the next attempt after the cooldown succeeds and clears the error.
    stub.mode = "ok"
    clock.advance(10)
    verify(source, known, stub.issuer)
    assert source.last_error is None
    assert stub.hits["/oidc/jwks"] == 3


def test_slow_endpoint_is_bounded_by_the_timeout(stub: StubIssuer) -> None:
    stub.mode = "hang"
    source = RemoteKeySource(issuer=stub.issuer, timeout=0.2, cooldown=10)
    with pytest.raises(KeySetUnavailableError):
        source.find("any")
    assert "timed out" in (source.last_error or "")
    # Within the cooldown the next request does not wait again.
    with pytest.raises(KeySetUnavailableError):
        source.find("any")
    assert sum(stub.hits.values()) == 1


def test_single_flight_one_fetch_for_many_threads() -> None:
    key = new_key()
    threads_in = set()
    arrived = threading.Event()
    fetches = 0
    lock = threading.Lock()

    def clock() -> float:
        with lock:
            threads_in.add(threading.get_ident())
            if len(threads_in) == 8:
                arrived.set()
        return 0.0

    def fetch(url: str, timeout: float) -> bytes:
        nonlocal fetches
        fetches += 1
        arrived.wait(5)  # hold the fetch until every thread has asked for the key
        return json.dumps({"keys": [key.jwk()]}).encode()

    source = RemoteKeySource(jwks_url="https://auth.example.com/oidc/jwks", fetch=fetch, clock=clock)
    results: list[Any] = []
    workers = [threading.Thread(target=lambda: results.append(source.find(key.kid))) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert fetches == 1
    assert len(results) == 8 and all(r is not None and r.kid == key.kid for r in results)


def test_discovery_must_name_the_configured_issuer(stub: StubIssuer) -> None:
    source = RemoteKeySource(issuer=stub.issuer, fetch=lambda url, timeout: b'{"issuer": "https://evil.example/oidc"}')
    with pytest.raises(KeySetUnavailableError):
        source.find("kid")
    assert "another issuer" in (source.last_error or "")


def test_jwks_parsing_skips_keys_it_must_not_use() -> None:
    es384, rs256 = new_key("ES384"), new_key("RS256")
    private = es384.jwk() | {"kid": "leaked", "d": "AAAA"}
    encryption = es384.jwk() | {"kid": "enc", "use": "enc"}
    wrong_curve = es384.jwk() | {"kid": "curve", "alg": "ES256"}
    symmetric = {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"}
    rsa_without_alg = rs256.jwk(with_alg=False)
    keys = parse_jwks({"keys": [es384.jwk(), private, encryption, wrong_curve, symmetric, rsa_without_alg, "junk"]})
    assert {kid: k.algorithm for kid, k in keys.items()} == {es384.kid: "ES384", rs256.kid: "RS256"}
    with pytest.raises(remote.FetchError):
        parse_jwks({"keys": [symmetric]})
    with pytest.raises(remote.FetchError):
        parse_jwks({"no": "keys"})


def test_fetch_refuses_oversized_documents_and_other_schemes(stub: StubIssuer) -> None:
    stub.extra_jwks_entries = [{"kid": f"pad-{n}", "kty": "EC", "x": "A" * 400} for n in range(800)]
    with pytest.raises(remote.FetchError, match="more than"):
        remote.fetch_url(stub.jwks_url, 2)
    with pytest.raises(remote.FetchError):
        remote.fetch_url("file:///etc/passwd", 2)


# -- system checks --------------------------------------------------------------------------------


def check_ids(**logto: Any) -> set[str]:
    with override_settings(LOGTO_M2M=logto):
        return {m.id for m in run_checks() if m.id and m.id.startswith("logto_m2m.") and not m.is_silenced()}


def test_checks_accept_a_sound_remote_configuration(db: Any) -> None:
    assert check_ids(ISSUER="https://tenant.logto.app/oidc", KEY_SOURCE="remote") == set()
    assert check_ids(ISSUER="http://127.0.0.1:9000/oidc", KEY_SOURCE="remote") == set()  # loopback


def test_checks_report_remote_mode_mistakes(db: Any) -> None:
    assert "logto_m2m.E101" in check_ids(KEY_SOURCE="remote")
    assert "logto_m2m.E102" in check_ids(ISSUER="https://a.example/oidc", KEY_SOURCE="remote", JWKS_URL="ftp://x/j")
    assert "logto_m2m.E103" in check_ids(ISSUER="https://a.example/oidc", KEY_SOURCE="remote", JWKS_URL="http://a/j")
    assert "logto_m2m.E104" in check_ids(ISSUER="https://a.example/oidc", KEY_SOURCE="no.such.Source")
    assert "logto_m2m.W101" in check_ids(ISSUER="https://a.example/oidc", KEY_SOURCE="remote", JWKS_TIMEOUT=120)
    assert "logto_m2m.W102" in check_ids(ISSUER="https://a.example/oidc", KEY_SOURCE="remote", JWKS_CACHE_SECONDS=1)
    with override_settings(DEBUG=True):
        assert "logto_m2m.E103" not in check_ids(
            ISSUER="https://a.example/oidc", KEY_SOURCE="remote", JWKS_URL="http://a/j"
        )


def test_check_local_key_source_needs_the_app(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.apps import apps

    real = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: False if name == "logto_m2m_django" else real(name))
    assert "logto_m2m.E105" in check_ids(ISSUER="https://a.example/oidc", KEY_SOURCE="local")


# -- a resource server without this app's models ----------------------------------------------


def test_example_resource_server_runs_without_models_or_database() -> None:
    """The separate project: no logto_m2m_django app, no database; checks pass, no model is imported."""
    script = (
        "import sys, django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('check', fail_level='WARNING')\n"
        "from django.test import Client\n"
        "response = Client().get('/products', HTTP_AUTHORIZATION='Bearer not.a.jwt')\n"
        "assert response.status_code == 401, response.status_code\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('logto_m2m_django'))\n"
        "assert not any(m.startswith(('logto_m2m_django.models', 'logto_m2m_django.keys')) for m in loaded), loaded\n"
        "print('ok', len(loaded))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_resource_server.settings",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "LOGTO_M2M_ISSUER": "https://auth.example.com/oidc",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1].startswith("ok")


def test_any_fetch_failure_is_a_401_and_waits_for_the_cooldown() -> None:
    calls = 0

    def broken_fetch(url: str, timeout: float) -> bytes:
        nonlocal calls
        calls += 1
        raise RuntimeError("proxy exploded")

    source = RemoteKeySource(jwks_url="https://auth.example.com/oidc/jwks", fetch=broken_fetch, clock=FakeClock())
    for _ in range(3):
        with pytest.raises(KeySetUnavailableError):
            source.find("kid")
    assert calls == 1
    assert source.last_error == "proxy exploded"
