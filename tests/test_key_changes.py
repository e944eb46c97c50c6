"""Key changes reach every process within KEY_CHANGE_CHECK_SECONDS, with any cache backend (issue 12, item 1).

"Another process" is a second :class:`KeyStore` whose change is committed (its on-commit callbacks run),
or a version bumped in the database counter / the shared cache directly. The process under test is a
:class:`TokenValidator` over a key store of its own: a worker that validates tokens and issues none.
Clocks are injected, never waited for.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from django.test import override_settings

from logto_m2m_django import changes, keys, tokens
from logto_m2m_django._internal import sharedcache
from logto_m2m_django.conf import m2m_settings
from logto_m2m_django.drf.validation import TokenValidator
from logto_m2m_django.keys import KeyStore
from logto_m2m_django.models import ChangeCounter, KeyStatus, SigningKey
from tests.conftest import FakeClock

AUDIENCE = "https://shopping.api"
INTERVAL = 5

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(keys, "time", fake)
    monkeypatch.setattr(changes, "clock", fake)
    monkeypatch.setattr(sharedcache, "clock", fake)
    return fake


@pytest.fixture(autouse=True)
def _closed_breaker(closed_breaker: None) -> None:
    """Every test here starts and ends with the cache's breaker closed."""


@pytest.fixture
def locmem() -> Iterator[None]:
    """No shared cache: the embedded default (each process has its own memory)."""
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}):
        yield


@pytest.fixture
def file_cache(tmp_path: Any) -> Iterator[None]:
    """A cache every process shares (``is_shared``), without needing Redis."""
    location = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
    with override_settings(CACHES={"default": location}):
        yield


@pytest.fixture
def redis_cache() -> Iterator[None]:
    """The shared cache of production: Redis (REDIS_URL), with keys of this test alone."""
    location = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        "KEY_PREFIX": f"logto-m2m-key-changes-{uuid.uuid4().hex}",
    }
    with override_settings(CACHES={"default": location}):
        yield
        caches["default"].delete(changes.cache_key("keys"))


def mint(material: tokens.SigningMaterial) -> str:
    claims = tokens.build_claims(
        issuer=str(m2m_settings.ISSUER),
        client_id="order-stats",
        audience=AUDIENCE,
        scopes=("read:products",),
        lifetime=3600,
        now=int(time.time()),
    )
    return tokens.sign(claims, material)


def committed(django_capture_on_commit_callbacks: Any, change: Callable[[], Any]) -> Any:
    """``change()`` made and committed by another process."""
    with django_capture_on_commit_callbacks(execute=True):
        result = change()
    if not sharedcache.is_shared("default"):
        caches["default"].clear()  # what it wrote in its local memory, this process never sees
    return result


def delete_elsewhere(other: KeyStore, kid: str, capture: Any) -> None:
    """What an operator does when a key leaks, in another process: rotate, then delete the old key."""
    committed(capture, other.rotate)
    committed(capture, lambda: other.delete(kid))


# -- a validation-only process notices a deletion made elsewhere -----------------------------------------


@pytest.mark.parametrize("cache", ["locmem", "file_cache", pytest.param("redis_cache", marks=pytest.mark.redis)])
def test_a_worker_that_only_validates_refuses_a_key_deleted_in_another_process(
    cache: str, clock: FakeClock, request: pytest.FixtureRequest, django_capture_on_commit_callbacks: Any
) -> None:
    request.getfixturevalue(cache)
    other = KeyStore()  # the process where the operator works (admin, CLI)
    old = other.signing_material()
    seen, unseen = mint(old), mint(old)
    validator = TokenValidator(KeyStore())  # a worker that validates tokens and issues none
    assert validator.validate(seen, AUDIENCE).client_id == "order-stats"  # now in its verified-token cache

    clock.now += 1
    delete_elsewhere(other, old.kid, django_capture_on_commit_callbacks)
    clock.now += INTERVAL

    with pytest.raises(tokens.TokenError, match="unknown key"):
        validator.validate(seen, AUDIENCE)
    with pytest.raises(tokens.TokenError, match="unknown key"):
        validator.validate(unseen, AUDIENCE)


@pytest.mark.parametrize("cache", ["locmem", "file_cache", pytest.param("redis_cache", marks=pytest.mark.redis)])
def test_a_worker_that_only_signs_and_publishes_uses_a_rotation_made_elsewhere(
    cache: str, clock: FakeClock, request: pytest.FixtureRequest, django_capture_on_commit_callbacks: Any
) -> None:
    request.getfixturevalue(cache)
    other = KeyStore()
    old = other.signing_material().kid
    worker = KeyStore()
    assert worker.signing_material().kid == old
    assert [k["kid"] for k in worker.jwks()["keys"]] == [old]

    clock.now += 1
    new = committed(django_capture_on_commit_callbacks, other.rotate).kid
    committed(django_capture_on_commit_callbacks, lambda: other.delete(old))
    clock.now += INTERVAL

    assert worker.signing_material().kid == new
    assert [k["kid"] for k in worker.jwks()["keys"]] == [new]


def test_a_change_is_noticed_from_the_database_counter_alone(clock: FakeClock, locmem: None) -> None:
    """Another process's change shows as a bumped counter row (LocMemCache: no cache to read)."""
    first = KeyStore().signing_material().kid  # created (and announced) by another process
    worker = KeyStore()
    assert [k["kid"] for k in worker.jwks()["keys"]] == [first]
    second = keys._new_key_row("ES384", KeyStatus.NEXT)
    SigningKey.objects.bulk_create([second])  # a row change without a notice (no signals, no announce)
    clock.now += INTERVAL
    assert second.kid not in {k["kid"] for k in worker.jwks()["keys"]}  # the notice is what it goes by

    ChangeCounter.objects.filter(channel="keys").update(version=F("version") + 1)  # the notice, by hand
    clock.now += INTERVAL

    assert {k["kid"] for k in worker.jwks()["keys"]} == {first, second.kid}


def test_within_the_interval_the_keys_in_memory_are_used(
    clock: FakeClock, locmem: None, django_capture_on_commit_callbacks: Any
) -> None:
    other = KeyStore()
    old = other.signing_material()
    validator = TokenValidator(KeyStore())
    token = mint(old)
    validator.validate(token, AUDIENCE)

    clock.now += 1
    delete_elsewhere(other, old.kid, django_capture_on_commit_callbacks)
    clock.now += INTERVAL - 2  # the last check was at 1000: the next one is due at 1005

    assert validator.validate(token, AUDIENCE).client_id == "order-stats"
    clock.now += 1
    with pytest.raises(tokens.TokenError):
        validator.validate(token, AUDIENCE)


# -- what a check costs ------------------------------------------------------------------------------


def test_without_a_shared_cache_one_indexed_read_per_interval(
    clock: FakeClock, locmem: None, django_assert_num_queries: Any
) -> None:
    KeyStore().signing_material()  # the first key, made by another process
    store = KeyStore()
    validator = TokenValidator(store)
    token = mint(store.signing_material())
    validator.validate(token, AUDIENCE)

    with django_assert_num_queries(0):
        for _ in range(50):
            validator.validate(token, AUDIENCE)
            store.signing_material()
            store.jwks()
    clock.now += INTERVAL
    with django_assert_num_queries(1) as captured:
        for _ in range(50):
            validator.validate(token, AUDIENCE)
            store.signing_material()
            store.jwks()
    (query,) = captured.captured_queries
    assert ChangeCounter._meta.db_table in query["sql"]


@pytest.mark.parametrize("cache", ["file_cache", pytest.param("redis_cache", marks=pytest.mark.redis)])
def test_with_a_shared_cache_no_database_read_and_one_cache_read_per_interval(
    cache: str,
    clock: FakeClock,
    request: pytest.FixtureRequest,
    django_assert_num_queries: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request.getfixturevalue(cache)
    KeyStore().signing_material()  # the first key, made by another process
    store = KeyStore()
    validator = TokenValidator(store)
    token = mint(store.signing_material())
    validator.validate(token, AUDIENCE)
    backend = caches["default"]
    gets: list[str] = []
    real_get = backend.get
    monkeypatch.setattr(backend, "get", lambda key, *a, **kw: gets.append(key) or real_get(key, *a, **kw))

    clock.now += INTERVAL
    with django_assert_num_queries(0):
        for _ in range(50):
            validator.validate(token, AUDIENCE)
            store.signing_material()
    assert gets == [changes.cache_key("keys")]


def test_with_the_shared_cache_down_the_database_counter_is_read_instead(
    clock: FakeClock, django_capture_on_commit_callbacks: Any, django_assert_max_num_queries: Any
) -> None:
    dead = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    with override_settings(CACHES={"default": dead}):
        other = KeyStore()
        old = other.signing_material()
        validator = TokenValidator(KeyStore())
        token = mint(old)
        validator.validate(token, AUDIENCE)

        clock.now += 1
        delete_elsewhere(other, old.kid, django_capture_on_commit_callbacks)  # its cache write fails: logged
        clock.now += INTERVAL

        with pytest.raises(tokens.TokenError, match="unknown key"):
            validator.validate(token, AUDIENCE)
        assert not sharedcache.breaker.usable()


def test_a_missing_cache_entry_falls_back_to_the_database_and_is_restored(
    clock: FakeClock, file_cache: None, django_capture_on_commit_callbacks: Any
) -> None:
    other = KeyStore()
    old = other.signing_material()
    validator = TokenValidator(KeyStore())
    token = mint(old)
    validator.validate(token, AUDIENCE)

    clock.now += 1
    delete_elsewhere(other, old.kid, django_capture_on_commit_callbacks)
    caches["default"].delete(changes.cache_key("keys"))  # evicted, or Redis restarted empty
    clock.now += INTERVAL

    with pytest.raises(tokens.TokenError):
        validator.validate(token, AUDIENCE)
    assert caches["default"].get(changes.cache_key("keys")) == ChangeCounter.objects.get(channel="keys").version


@pytest.mark.parametrize("cache", ["file_cache", pytest.param("redis_cache", marks=pytest.mark.redis)])
def test_a_notice_the_cache_missed_is_written_by_its_process_once_the_cache_answers(
    cache: str,
    clock: FakeClock,
    request: pytest.FixtureRequest,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deletion's cache write fails in the announcing process alone: the cache keeps the previous number,
    which the workers trust. At its next look, once the cache answers, the announcing process writes the
    database's number, and the workers refuse the deleted key's tokens at theirs (not after the entry expires)."""
    request.getfixturevalue(cache)
    other = KeyStore()
    old = other.signing_material()
    token = mint(old)
    validator = TokenValidator(KeyStore())
    validator.validate(token, AUDIENCE)
    clock.now += 1
    committed(django_capture_on_commit_callbacks, other.rotate)
    clock.now += INTERVAL
    assert validator.validate(token, AUDIENCE).client_id == "order-stats"  # the rotation seen; old key still valid

    backend = caches["default"]
    real_set = backend.set

    def lost(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the write was lost")

    monkeypatch.setattr(backend, "set", lost)
    committed(django_capture_on_commit_callbacks, lambda: other.delete(old.kid))
    monkeypatch.setattr(backend, "set", real_set)
    sharedcache.breaker.reset()  # the workers' breakers never opened: they read the cache as usual
    version = ChangeCounter.objects.get(channel="keys").version
    assert backend.get(changes.cache_key("keys")) < version  # the rotation's number

    clock.now += max(INTERVAL, sharedcache.RETRY_SECONDS)
    other.version  # the announcing process's next look (one process here: it must come first)  # noqa: B018
    assert backend.get(changes.cache_key("keys")) == version
    with pytest.raises(tokens.TokenError, match="unknown key"):
        validator.validate(token, AUDIENCE)


# -- announcing ----------------------------------------------------------------------------------------


def test_a_rolled_back_change_announces_nothing(file_cache: None, django_capture_on_commit_callbacks: Any) -> None:
    store = KeyStore()
    committed(django_capture_on_commit_callbacks, store.signing_material)
    before = ChangeCounter.objects.get(channel="keys").version
    cached = caches["default"].get(changes.cache_key("keys"))

    class AbortError(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(AbortError),
        transaction.atomic(),
    ):
        store.rotate()
        raise AbortError

    assert callbacks == []
    assert ChangeCounter.objects.get(channel="keys").version == before
    assert caches["default"].get(changes.cache_key("keys")) == cached


def test_each_committed_change_writes_the_database_version_to_the_shared_cache(
    file_cache: None, django_capture_on_commit_callbacks: Any
) -> None:
    store = KeyStore()
    for change in (store.signing_material, store.rotate, lambda: store.rotate(staged=True)):
        committed(django_capture_on_commit_callbacks, change)
        version = ChangeCounter.objects.get(channel="keys").version
        assert caches["default"].get(changes.cache_key("keys")) == version


def test_a_retry_that_read_an_older_version_keeps_the_newer_one_owed(
    file_cache: None, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry reads the database, then another announcement of this process commits and fails to reach the
    cache too: the retry's older number reaches the cache, and the newer one is still owed (and written next)."""
    backend = caches["default"]
    real_set = backend.set

    def lost(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the write was lost")

    monkeypatch.setattr(backend, "set", lost)
    version = committed(django_capture_on_commit_callbacks, lambda: changes.announce("keys"))
    monkeypatch.setattr(backend, "set", real_set)
    sharedcache.breaker.reset()
    assert changes.unpublished() == {"keys"}

    with monkeypatch.context() as patch:
        patch.setattr(changes, "_database_version", lambda channel: version - 1)  # read before that commit
        changes.republish("keys")
    assert backend.get(changes.cache_key("keys")) == version - 1
    assert changes.unpublished() == {"keys"}  # the CLI would still warn

    changes.republish("keys")
    assert backend.get(changes.cache_key("keys")) == version
    assert changes.unpublished() == frozenset()


@pytest.mark.redis
def test_the_cache_entry_expires_within_a_minute(redis_cache: None, django_capture_on_commit_callbacks: Any) -> None:
    """The bound on a notice whose cache write failed and whose process exited (the CLI): once the entry is
    gone, the first process to look reads the database's number and puts it back."""
    committed(django_capture_on_commit_callbacks, KeyStore().signing_material)
    backend = caches["default"]
    key = backend.make_and_validate_key(changes.cache_key("keys"))
    remaining = backend._cache.get_client(key).ttl(key)  # type: ignore[attr-defined]
    assert 0 < remaining <= changes.CACHE_TTL_SECONDS <= 60


# The CLI commits as it goes (autocommit), so its notices reach the cache before it exits: real transactions.
@pytest.mark.django_db(transaction=True)
def test_announce_change_tells_every_process_about_keys_and_grants(file_cache: None) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("m2m", "announce-change", stdout=out, stderr=err)
    versions = dict(ChangeCounter.objects.values_list("channel", "version"))
    assert versions.keys() >= {"keys", "grants"}
    for channel in ("keys", "grants"):
        assert caches["default"].get(changes.cache_key(channel)) == versions[channel]
    assert "signing keys" in out.getvalue()
    assert err.getvalue() == ""


@pytest.mark.django_db(transaction=True)
def test_the_cli_says_when_the_cache_did_not_take_its_notice(clock: FakeClock) -> None:
    dead = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
    err = io.StringIO()
    with override_settings(CACHES={"default": dead}):
        call_command("m2m", "rotate-keys", stdout=io.StringIO(), stderr=err)
    assert "did not take the change notice (keys)" in err.getvalue()
    assert "m2m announce-change" in err.getvalue()
    assert SigningKey.objects.filter(status=KeyStatus.CURRENT).count() == 1  # the change itself is saved


# -- the verified-token cache and a deletion racing a verification -----------------------------------


class DeletedDuringVerification:
    """A key source whose key is deleted (in this process) right after the token's key was looked up."""

    def __init__(self, store: KeyStore, capture: Any) -> None:
        self.store = store
        self.capture = capture
        self.armed = True

    @property
    def version(self) -> int:
        return self.store.version

    def find(self, kid: str) -> tokens.VerificationKey | None:
        key = self.store.find(kid)
        if self.armed:
            self.armed = False
            delete_elsewhere(self.store, kid, self.capture)
        return key


def test_a_token_verified_while_its_key_is_deleted_is_not_cached_as_valid(
    django_capture_on_commit_callbacks: Any,
) -> None:
    store = KeyStore()
    token = mint(store.signing_material())
    validator = TokenValidator(DeletedDuringVerification(store, django_capture_on_commit_callbacks))

    validator.validate(token, AUDIENCE)  # verified with the key it found, a moment before the deletion

    with pytest.raises(tokens.TokenError, match="unknown key"):
        validator.validate(token, AUDIENCE)


# -- the system check -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, []),
        ({"KEY_CHANGE_CHECK_SECONDS": 1}, []),
        ({"KEY_CHANGE_CHECK_SECONDS": -1}, ["logto_m2m.E030"]),
        ({"KEY_CHANGE_CHECK_SECONDS": "often"}, ["logto_m2m.E030"]),
        ({"KEY_CACHE_SECONDS": "long"}, ["logto_m2m.E030"]),
        ({"KEY_CHANGE_CHECK_SECONDS": 0}, ["logto_m2m.W030"]),
        ({"KEY_CHANGE_CHECK_SECONDS": 600}, ["logto_m2m.W031"]),
        ({"KEY_CHANGE_CHECK_SECONDS": 30, "KEY_CACHE_SECONDS": 10}, ["logto_m2m.W031"]),
    ],
)
def test_the_key_change_interval_is_checked(values: dict[str, Any], expected: list[str]) -> None:
    from django.conf import settings

    from logto_m2m_django.checks import check_key_change_interval

    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, **values}):
        assert [message.id for message in check_key_change_interval()] == expected
