"""The signing key store: first key, rotation, deletion rules, encryption at rest, caching, JWKS."""

from __future__ import annotations

import json
import threading
from http import HTTPStatus

import jwt
import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from jwcrypto.jwk import JWK

from logto_m2m_django import changes, keys, tokens
from logto_m2m_django.conf import SUPPORTED_ALGORITHMS
from logto_m2m_django.keys import KeyStore, KeyStoreError, key_store
from logto_m2m_django.models import KeyStatus, SigningKey

NEW_KEY = "rotated-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def statuses():
    return sorted(SigningKey.objects.values_list("status", flat=True))


class FakeClock:
    """Stands in for ``time`` in keys.py so that cache ages are injected, not waited for."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(keys, "time", fake)
    return fake


# -- the first key ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_first_key_is_created_on_first_need():
    assert SigningKey.objects.count() == 0
    material = key_store.signing_material()
    row = SigningKey.objects.get()
    assert (row.status, row.algorithm, row.kid) == (KeyStatus.CURRENT, "ES384", material.kid)


@pytest.mark.django_db
def test_first_key_uses_the_signing_algorithm_setting():
    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "SIGNING_ALGORITHM": "EdDSA"}):
        assert key_store.signing_material().algorithm == "EdDSA"


@pytest.mark.django_db
def test_ensure_current_key_is_idempotent():
    key_store.ensure_current_key()
    key_store.ensure_current_key()
    assert statuses() == [KeyStatus.CURRENT]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_first_key_creation_is_safe_when_processes_race():
    workers = 6
    barrier = threading.Barrier(workers)
    kids: list[str] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            store = KeyStore()  # one store per "process"
            barrier.wait(timeout=30)
            kids.append(store.signing_material().kid)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert statuses() == [KeyStatus.CURRENT]
    assert set(kids) == {SigningKey.objects.get().kid}


@pytest.mark.django_db
def test_losing_the_first_key_race_keeps_the_winners_key(monkeypatch):
    # Another process inserts its Current key between our "is there one?" and our INSERT.
    winner = KeyStore()
    winner_kid = winner.signing_material().kid

    class NothingYet:
        def exists(self) -> bool:
            return False

    real_filter = SigningKey.objects.filter
    monkeypatch.setattr(
        SigningKey.objects,
        "filter",
        lambda *a, **kw: NothingYet() if kw == {"status": KeyStatus.CURRENT} else real_filter(*a, **kw),
    )
    loser = KeyStore()
    assert loser.signing_material().kid == winner_kid
    assert statuses() == [KeyStatus.CURRENT]


# -- rotation --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_immediate_rotation_makes_a_new_current_and_the_old_previous():
    old = key_store.signing_material().kid
    new = key_store.rotate()
    assert new.status == KeyStatus.CURRENT
    assert SigningKey.objects.get(kid=old).status == KeyStatus.PREVIOUS
    assert key_store.signing_material().kid == new.kid != old
    assert {k["kid"] for k in key_store.jwks()["keys"]} == {old, new.kid}


@pytest.mark.django_db
def test_immediate_rotation_keeps_one_previous_key():
    first = key_store.signing_material().kid
    second = key_store.rotate().kid
    third = key_store.rotate().kid
    assert not SigningKey.objects.filter(kid=first).exists()
    assert dict(SigningKey.objects.values_list("kid", "status")) == {
        second: KeyStatus.PREVIOUS,
        third: KeyStatus.CURRENT,
    }


@pytest.mark.django_db
def test_rotation_can_change_the_algorithm():
    key_store.signing_material()
    assert key_store.rotate("RS256").algorithm == "RS256"
    assert key_store.signing_material().algorithm == "RS256"


@pytest.mark.django_db
def test_staged_rotation_publishes_a_next_key_then_promotes_it():
    current = key_store.signing_material().kid
    staged = key_store.rotate(staged=True)
    assert staged.status == KeyStatus.NEXT
    # Published at once, but not yet signing.
    assert {k["kid"] for k in key_store.jwks()["keys"]} == {current, staged.kid}
    assert key_store.signing_material().kid == current
    promoted = key_store.rotate()
    assert promoted.kid == staged.kid
    assert key_store.signing_material().kid == staged.kid
    assert SigningKey.objects.get(kid=current).status == KeyStatus.PREVIOUS


@pytest.mark.django_db
def test_jwks_publishes_current_next_and_previous():
    key_store.signing_material()
    key_store.rotate()
    key_store.rotate(staged=True)
    assert statuses() == [KeyStatus.CURRENT, KeyStatus.NEXT, KeyStatus.PREVIOUS]
    assert len(key_store.jwks()["keys"]) == 3


@pytest.mark.django_db
def test_a_second_staged_key_is_refused():
    key_store.signing_material()
    key_store.rotate(staged=True)
    with pytest.raises(KeyStoreError, match="already staged"):
        key_store.rotate(staged=True)


@pytest.mark.django_db
@pytest.mark.parametrize("algorithm", ["HS256", "none", "RS512", ""])
def test_rotation_refuses_unsupported_algorithms(algorithm):
    key_store.signing_material()
    with pytest.raises(KeyStoreError, match="Unsupported algorithm"):
        key_store.rotate(algorithm or "bogus")
    assert statuses() == [KeyStatus.CURRENT]


@pytest.mark.django_db
def test_tokens_of_the_previous_key_still_validate(shop, access_token, api_client):
    assert api_client.get("/products", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code == HTTPStatus.OK
    key_store.rotate()
    assert api_client.get("/products", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code == HTTPStatus.OK
    # Once its key is gone (a second rotation), the token is refused.
    key_store.rotate()
    response = api_client.get("/products", HTTP_AUTHORIZATION=f"Bearer {access_token}")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


# -- deletion -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_current_key_cannot_be_deleted():
    kid = key_store.signing_material().kid
    with pytest.raises(KeyStoreError, match="Current"):
        key_store.delete(kid)
    assert SigningKey.objects.filter(kid=kid).exists()


@pytest.mark.django_db
def test_the_last_key_cannot_be_deleted():
    kid = key_store.signing_material().kid
    SigningKey.objects.filter(kid=kid).update(status=KeyStatus.PREVIOUS)
    with pytest.raises(KeyStoreError, match="last key"):
        key_store.delete(kid)
    assert SigningKey.objects.count() == 1


@pytest.mark.django_db
def test_previous_and_next_keys_can_be_deleted():
    old = key_store.signing_material().kid
    key_store.rotate()
    staged = key_store.rotate(staged=True).kid
    key_store.delete(old)
    key_store.delete(staged)
    assert statuses() == [KeyStatus.CURRENT]
    assert {k["kid"] for k in key_store.jwks()["keys"]} == {key_store.signing_material().kid}


@pytest.mark.django_db
def test_deleting_an_unknown_key_is_an_error():
    key_store.signing_material()
    with pytest.raises(KeyStoreError, match="No such key"):
        key_store.delete("no-such-kid")


# -- encryption at rest ---------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("algorithm", SUPPORTED_ALGORITHMS)
def test_private_keys_are_encrypted_at_rest(algorithm):
    key_store.signing_material()
    row = key_store.rotate(algorithm)
    stored = SigningKey.objects.get(pk=row.pk)
    assert "PRIVATE KEY" not in stored.private_key_encrypted
    assert "BEGIN" not in stored.private_key_encrypted
    assert not set(stored.public_jwk) & {"d", "p", "q", "dp", "dq", "qi"}


@pytest.mark.django_db
def test_keys_still_decrypt_with_secret_key_fallbacks():
    kid = key_store.signing_material().kid
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]):
        assert key_store.signing_material().kid == kid


@pytest.mark.django_db
def test_keys_do_not_decrypt_after_secret_key_change_without_fallbacks():
    key_store.signing_material()
    with (
        override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]),
        pytest.raises(KeyStoreError, match="SECRET_KEY_FALLBACKS"),
    ):
        key_store.signing_material()


@pytest.mark.django_db
def test_undecryptable_private_key_still_serves_public_keys(shop, access_token, api_client, django_assert_num_queries):
    kid = key_store.signing_material().kid
    with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
        # Signing fails loudly, but the JWKS and token validation need only the public keys.
        with pytest.raises(KeyStoreError):
            key_store.signing_material()
        assert [key["kid"] for key in api_client.get("/oidc/jwks").json()["keys"]] == [kid]
        response = api_client.get("/products", HTTP_AUTHORIZATION=f"Bearer {access_token}")
        assert response.status_code == HTTPStatus.OK
        with django_assert_num_queries(0):  # the failure is remembered, not retried per call
            assert key_store.find(kid) is not None
            with pytest.raises(KeyStoreError):
                key_store.signing_material()
    assert SigningKey.objects.count() == 1


# -- algorithms and kid -------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("algorithm", SUPPORTED_ALGORITHMS)
def test_every_algorithm_signs_and_verifies(algorithm):
    key_store.signing_material()
    row = key_store.rotate(algorithm)
    material = key_store.signing_material()
    assert (material.kid, material.algorithm) == (row.kid, algorithm)
    claims = tokens.build_claims(
        issuer="https://auth.example.com/oidc",
        client_id="app",
        audience="https://shopping.api",
        scopes=["read:products"],
        lifetime=60,
        now=int(__import__("time").time()),
    )
    token = tokens.sign(claims, material)
    verified = tokens.verify(
        token,
        key_store.find,
        issuer="https://auth.example.com/oidc",
        audience="https://shopping.api",
        algorithms=SUPPORTED_ALGORITHMS,
        leeway=0,
        max_length=8192,
    )
    assert verified["scope"] == "read:products"
    # An independent JOSE library agrees with the published key and its RFC 7638 thumbprint.
    jwk = JWK(**row.public_jwk)
    assert jwk.thumbprint() == row.kid
    published = jwt.PyJWKSet.from_dict(key_store.jwks())[row.kid]
    assert jwt.decode(token, published, algorithms=[algorithm], audience="https://shopping.api")["sub"] == "app"


# -- the in-memory cache ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_keys_are_loaded_once(django_assert_num_queries):
    key_store.signing_material()
    with django_assert_num_queries(0):
        for _ in range(3):
            key_store.signing_material()
            key_store.jwks()
            key_store.find(key_store.signing_material().kid)


@pytest.mark.django_db
def test_private_key_is_parsed_once(monkeypatch):
    key_store.signing_material()
    key_store.invalidate()
    calls = []
    from logto_m2m_django._internal import keycrypto

    real = keycrypto.serialization.load_pem_private_key
    counting = lambda *a, **kw: calls.append(1) or real(*a, **kw)  # noqa: E731
    monkeypatch.setattr(keycrypto.serialization, "load_pem_private_key", counting)
    for _ in range(5):
        key_store.signing_material()
    assert len(calls) == 1


@pytest.mark.django_db
def test_key_cache_expires_after_key_cache_seconds(clock, django_assert_num_queries):
    store = KeyStore()
    store.signing_material()
    clock.now += 299
    with django_assert_num_queries(0):
        store.signing_material()
    clock.now += 2
    with django_assert_num_queries(1):
        store.signing_material()


@pytest.mark.django_db
def test_unknown_kid_reloads_at_most_once_per_cooldown(clock, django_assert_num_queries):
    store = KeyStore()
    store.signing_material()
    with django_assert_num_queries(1):
        assert store.find("unknown-kid") is None
    with django_assert_num_queries(0):
        assert store.find("unknown-kid") is None
    clock.now += 11
    with django_assert_num_queries(1):
        assert store.find("unknown-kid") is None


@pytest.mark.django_db
def test_a_key_added_by_another_process_is_found_by_kid(clock):
    store = KeyStore()
    store.signing_material()
    staged = KeyStore().rotate(staged=True)  # another process stages a key
    found = store.find(staged.kid)
    assert found is not None
    assert found.algorithm == staged.algorithm


@pytest.mark.django_db
def test_version_changes_when_the_key_set_changes():
    key_store.signing_material()
    before = key_store.version
    key_store.signing_material()
    assert key_store.version == before
    key_store.rotate(staged=True)
    key_store.find("anything-to-trigger-a-load")
    key_store.signing_material()
    assert key_store.version != before


@pytest.mark.django_db
def test_jwks_is_valid_json_web_key_set():
    key_store.signing_material()
    document = json.loads(json.dumps(key_store.jwks()))
    (key,) = document["keys"]
    assert {"kty", "kid", "alg", "use"} <= set(key)
    assert key["use"] == "sig"
    assert key["alg"] == "ES384"


@pytest.mark.django_db
def test_another_process_rotation_is_noticed(clock, monkeypatch, django_capture_on_commit_callbacks):
    """DESIGN §9: a rotation in one process reaches the signing key of the others within
    KEY_CHANGE_CHECK_SECONDS (tests/test_key_changes.py covers each path and backend)."""
    monkeypatch.setattr(changes, "clock", clock.monotonic)
    signer = KeyStore()  # a gunicorn worker that already signs tokens
    rotator = KeyStore()  # the process where an admin rotates
    old_kid = signer.signing_material().kid
    clock.now += 1
    with django_capture_on_commit_callbacks(execute=True):
        new = rotator.rotate()
    assert signer.signing_material().kid == old_kid  # inside the check interval: the copy in memory
    clock.now += 5
    assert signer.signing_material().kid == new.kid
