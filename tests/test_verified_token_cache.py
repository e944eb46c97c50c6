"""The verified-token cache of the DRF authentication class (logto_m2m_django.drf.validation).

Its four properties, seen through ``GET /products`` of the example project: a token seen before is
recognised without a second signature check (and without SQL); the cache holds at most
``VERIFIED_TOKEN_CACHE_SIZE`` entries; an entry never outlives the token's ``exp``; and a change of the
key set drops the entries verified against the old one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from logto_m2m_django import tokens
from logto_m2m_django.conf import m2m_settings
from logto_m2m_django.drf import validation
from logto_m2m_django.keys import key_store

AUDIENCE = "https://shopping.api"
CLIENT_ID = "order-stats-app"

pytestmark = pytest.mark.django_db


@pytest.fixture
def mint(db: Any) -> Callable[..., str]:
    """Tokens as the token endpoint signs them (same claims builder, the Current key)."""

    def _mint(lifetime: int = 3600, scopes: tuple[str, ...] = ("read:products",)) -> str:
        claims = tokens.build_claims(
            issuer=str(m2m_settings.ISSUER),
            client_id=CLIENT_ID,
            audience=AUDIENCE,
            scopes=scopes,
            lifetime=lifetime,
            now=int(time.time()),
        )
        return tokens.sign(claims, key_store.signing_material())

    return _mint


@pytest.fixture
def verify_calls() -> Iterator[mock.MagicMock]:
    """Counts the signature checks (``tokens.verify_parsed``) while letting them run."""
    with mock.patch.object(tokens, "verify_parsed", wraps=tokens.verify_parsed) as spy:
        yield spy


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The validation module's clock, set by the test (``clock.now``); PyJWT keeps the real one."""
    fake = SimpleNamespace(now=time.time())
    monkeypatch.setattr(validation, "time", SimpleNamespace(time=lambda: fake.now, monotonic=time.monotonic))
    return fake


def get(token: str) -> Any:
    return APIClient().get("/products", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_token_seen_before_skips_the_signature_check_and_sql(
    mint: Callable[..., str], verify_calls: mock.MagicMock, django_assert_num_queries: Any
) -> None:
    token = mint()
    assert get(token).status_code == HTTPStatus.OK
    assert verify_calls.call_count == 1

    with django_assert_num_queries(0):
        response = get(token)

    assert response.status_code == HTTPStatus.OK
    assert verify_calls.call_count == 1  # recognised, not verified again
    assert response.wsgi_request.user.client_id == CLIENT_ID


def test_a_cached_token_is_still_checked_against_the_view_audience(
    mint: Callable[..., str], verify_calls: mock.MagicMock
) -> None:
    token = mint()
    validator = validation.get_validator()
    validator.validate(token, AUDIENCE)

    with pytest.raises(tokens.TokenError, match="aud"):
        validator.validate(token, "https://another.api")
    assert verify_calls.call_count == 1


def test_failures_are_not_cached(mint: Callable[..., str], verify_calls: mock.MagicMock) -> None:
    head, payload, _ = mint().split(".")
    forged = f"{head}.{payload}.{mint().split('.')[2]}"

    assert get(forged).status_code == HTTPStatus.UNAUTHORIZED
    assert get(forged).status_code == HTTPStatus.UNAUTHORIZED
    assert verify_calls.call_count == 2
    assert len(validation.get_validator()) == 0


def test_the_cache_holds_at_most_the_configured_number_of_tokens(
    settings: Any, mint: Callable[..., str], verify_calls: mock.MagicMock
) -> None:
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "VERIFIED_TOKEN_CACHE_SIZE": 3}
    minted = [mint() for _ in range(5)]

    for token in minted:
        assert get(token).status_code == HTTPStatus.OK
    assert len(validation.get_validator()) == 3
    assert verify_calls.call_count == 5

    assert get(minted[-1]).status_code == HTTPStatus.OK  # among the newest: a hit
    assert verify_calls.call_count == 5
    assert get(minted[0]).status_code == HTTPStatus.OK  # the oldest was dropped: verified again
    assert verify_calls.call_count == 6
    assert len(validation.get_validator()) == 3


def test_a_cache_size_of_zero_remembers_nothing(
    settings: Any, mint: Callable[..., str], verify_calls: mock.MagicMock
) -> None:
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "VERIFIED_TOKEN_CACHE_SIZE": 0}
    token = mint()

    assert get(token).status_code == HTTPStatus.OK
    assert get(token).status_code == HTTPStatus.OK
    assert verify_calls.call_count == 2
    assert len(validation.get_validator()) == 0


def test_an_entry_is_never_used_past_the_token_expiry(
    mint: Callable[..., str], verify_calls: mock.MagicMock, clock: SimpleNamespace
) -> None:
    # A lifetime shorter than KEY_CACHE_SECONDS, so that exp is what ends the entry.
    assert m2m_settings.KEY_CACHE_SECONDS > 120
    token = mint(lifetime=120)
    exp = tokens.jwt.decode(token, options={"verify_signature": False})["exp"]
    assert get(token).status_code == HTTPStatus.OK
    assert verify_calls.call_count == 1

    clock.now = exp - 1
    assert get(token).status_code == HTTPStatus.OK
    assert verify_calls.call_count == 1  # still a hit one second before exp

    clock.now = exp
    get(token)
    assert verify_calls.call_count == 2  # at exp the cache no longer vouches for it
    assert len(validation.get_validator()) == 0  # and an expired token is not stored again


def test_an_entry_is_rechecked_after_the_key_cache_period(
    mint: Callable[..., str], verify_calls: mock.MagicMock, clock: SimpleNamespace
) -> None:
    token = mint(lifetime=3600)
    assert get(token).status_code == HTTPStatus.OK

    clock.now += m2m_settings.KEY_CACHE_SECONDS - 1
    assert get(token).status_code == HTTPStatus.OK
    assert verify_calls.call_count == 1

    clock.now += 2
    assert get(token).status_code == HTTPStatus.OK
    assert verify_calls.call_count == 2


def test_a_key_rotation_drops_the_entries(mint: Callable[..., str], verify_calls: mock.MagicMock) -> None:
    token = mint()
    assert get(token).status_code == HTTPStatus.OK

    key_store.rotate()  # the token's key becomes Previous: still valid, but verified again

    assert get(token).status_code == HTTPStatus.OK
    assert verify_calls.call_count == 2


def test_a_token_whose_key_was_removed_is_refused_even_when_cached(
    mint: Callable[..., str], verify_calls: mock.MagicMock
) -> None:
    token = mint()
    old_kid = key_store.signing_material().kid
    assert get(token).status_code == HTTPStatus.OK
    assert get(token).status_code == HTTPStatus.OK
    assert verify_calls.call_count == 1

    key_store.rotate()
    key_store.delete(old_kid)

    response = get(token)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "unknown key" in response["WWW-Authenticate"]


class RecordingKeySource:
    """The key store, noting when the validator reads the key-set version and looks a key up."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @property
    def version(self) -> int:
        self.calls.append("version")
        return key_store.version

    def find(self, kid: str) -> tokens.VerificationKey | None:
        self.calls.append("find")
        return key_store.find(kid)


def test_the_key_set_version_is_read_before_the_key_lookup(mint: Callable[..., str]) -> None:
    source = RecordingKeySource()

    validation.TokenValidator(source).validate(mint(), AUDIENCE)

    assert source.calls == ["version", "find"]


def test_a_malformed_token_is_refused_before_the_key_set_is_polled() -> None:
    source = RecordingKeySource()

    with pytest.raises(tokens.TokenError, match="not a JSON object"):
        validation.TokenValidator(source).validate("bm90LWEtand0.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", AUDIENCE)

    assert source.calls == []
