"""The grant cache (issue 16): 0 SQL reads per token request in steady state, and revocation as fast as before.

Each process keeps the clients and grants it read; every change empties the caches of every process:

* in this process at once (the revocation paths of the admin, the Management API, the ORM and querysets);
* in another process from its next request when the cache is shared (Redis), or once
  KEY_CHANGE_CHECK_SECONDS have passed when it is not (LocMemCache), or when the shared cache is down.

"Another process" changes rows with raw SQL and announces the change the way another process's commit
does (the counter row, and the shared cache's copy when there is one), without this process's listeners.
Clocks are injected, never waited for.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import caches
from django.db import connection, transaction
from django.db.models import F
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_application_model
from rest_framework.test import APIClient

from logto_m2m_django import changes, grant_cache
from logto_m2m_django._internal import sharedcache
from logto_m2m_django.conf import m2m_settings
from logto_m2m_django.management_api.builtin import ensure_management_role
from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.models import ApplicationSecret, ChangeCounter, M2MApplication, Resource, Role, Scope
from logto_m2m_django.provisioning import add_secret, reset_default_secret, revoke_default_secret
from tests.conftest import FORM, SHOP, FakeClock, Shop

pytestmark = pytest.mark.django_db

INTERVAL = 5
MGMT = "https://default.logto.app/api"
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "grant-cache-tests"}}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(changes, "clock", fake)
    monkeypatch.setattr(grant_cache, "clock", fake)
    monkeypatch.setattr(sharedcache, "clock", fake)
    return fake


@pytest.fixture(autouse=True)
def _closed_breaker(closed_breaker: None) -> None:
    """Every test here starts and ends with the cache's breaker closed."""


CACHE_KINDS = ["locmem", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(params=CACHE_KINDS)
def cache_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """The token endpoint with a process-private cache, and (REDIS_URL) with a shared one."""
    if request.param == "locmem":
        with override_settings(CACHES=LOCMEM):
            yield "locmem"
        return
    redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", ""),
            "KEY_PREFIX": f"grant-cache-tests-{os.getpid()}",
        }
    }
    with override_settings(CACHES=redis):
        caches["default"].delete(changes.cache_key(grant_cache.CHANNEL))
        yield "redis"
        caches["default"].delete(changes.cache_key(grant_cache.CHANNEL))


def post_token(shop: Shop, secret: str | None = None, client_id: str | None = None, **data: str) -> Any:
    body = {"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products", **data}
    return APIClient().post(
        "/oidc/token", urlencode(body), content_type=FORM, HTTP_AUTHORIZATION=shop.basic(client_id, secret)
    )


def reads_of(action: Callable[[], Any]) -> tuple[Any, int]:
    """``action()``'s result and the number of SELECTs it sent."""
    with CaptureQueriesContext(connection) as captured:
        result = action()
    return result, sum(1 for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT"))


def warm(shop: Shop, **data: str) -> None:
    """Two successful requests: the first fills the cache, the second shows it is used."""
    first, _ = reads_of(lambda: post_token(shop, **data))
    assert first.status_code == HTTPStatus.OK, first.content
    second, reads = reads_of(lambda: post_token(shop, **data))
    assert second.status_code == HTTPStatus.OK
    assert reads == 0


# -- steady state ----------------------------------------------------------------------------


def test_a_repeated_token_request_reads_nothing(shop: Shop) -> None:
    assert post_token(shop).status_code == HTTPStatus.OK  # the signing key, the change counters...
    grant_cache.grant_cache.invalidate()
    first, first_reads = reads_of(lambda: post_token(shop))
    assert first.status_code == HTTPStatus.OK
    assert first_reads == 2  # the client, then its grant
    second, reads = reads_of(lambda: post_token(shop))
    assert second.status_code == HTTPStatus.OK
    assert reads == 0
    assert second.json()["scope"] == "read:products"
    assert second.json()["expires_in"] == first.json()["expires_in"]


def test_each_resource_is_a_grant_of_its_own(shop: Shop) -> None:
    other = Resource.objects.create(name="Other", indicator="https://other.api")
    Scope.objects.create(resource=other, name="read:other")
    warm(shop)
    response, reads = reads_of(lambda: post_token(shop, resource="https://other.api", scope="read:other"))
    assert response.status_code == HTTPStatus.OK
    assert "scope" not in response.json()  # the app holds nothing there
    assert reads == 1  # the grant only: the client came from the cache


def test_an_unknown_resource_stays_unknown_from_the_cache(shop: Shop) -> None:
    warm(shop)
    for _ in range(2):
        response = post_token(shop, resource="https://nowhere.api")
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert response.json()["error"] == "invalid_target"
    Resource.objects.create(name="Now here", indicator="https://nowhere.api")
    assert post_token(shop, resource="https://nowhere.api").status_code == HTTPStatus.OK


@override_settings(
    LOGTO_M2M={"ISSUER": "https://auth.example.com/oidc", "THROTTLE_RATES": None, "GRANT_CACHE_SECONDS": 0}
)
def test_turned_off_every_request_reads_the_database(shop: Shop) -> None:
    post_token(shop)  # the signing key
    for _ in range(3):
        response, reads = reads_of(lambda: post_token(shop))
        assert response.status_code == HTTPStatus.OK
        assert reads == 2


@override_settings(
    LOGTO_M2M={"ISSUER": "https://auth.example.com/oidc", "THROTTLE_RATES": None, "KEY_CHANGE_CHECK_SECONDS": 0}
)
def test_off_when_change_checks_are_off(shop: Shop) -> None:
    post_token(shop)  # the signing key
    for _ in range(2):
        assert reads_of(lambda: post_token(shop))[1] == 2


def test_an_entry_is_read_again_after_its_maximum_age(shop: Shop, clock: FakeClock) -> None:
    warm(shop)
    clock.now += m2m_settings.GRANT_CACHE_SECONDS + 1
    response, reads = reads_of(lambda: post_token(shop))
    assert response.status_code == HTTPStatus.OK
    assert reads >= 2  # both entries expired (the change check may read its counter too)


# -- what a hostile caller can learn -----------------------------------------------------------


def test_a_wrong_secret_is_never_answered_from_the_cache(shop: Shop) -> None:
    warm(shop)
    wrong, wrong_reads = reads_of(lambda: post_token(shop, secret="not-the-secret"))
    unknown, unknown_reads = reads_of(lambda: post_token(shop, client_id="no-such-client", secret="whatever"))
    assert wrong.status_code == unknown.status_code == HTTPStatus.UNAUTHORIZED
    assert wrong.json() == unknown.json()
    # Both take the database path: the cache tells nobody which client IDs exist or are in use.
    assert wrong_reads == unknown_reads == 1


def test_a_cached_client_still_needs_its_own_secret(shop: Shop) -> None:
    _named, other_secret = add_secret(shop.app, "second")
    warm(shop)
    # The other secret of the same app is a client of its own in the cache: verified once, then served.
    assert reads_of(lambda: post_token(shop, secret=other_secret))[1] == 1
    assert reads_of(lambda: post_token(shop, secret=other_secret))[1] == 0
    assert post_token(shop, secret=shop.secret[:-1]).status_code == HTTPStatus.UNAUTHORIZED


def test_a_named_secret_that_expires_while_cached_is_refused(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    _row, secret = add_secret(shop.app, "short-lived", expires_at=timezone.now() + timedelta(hours=1))
    warm(shop, scope="read:products")
    assert reads_of(lambda: post_token(shop, secret=secret))[0].status_code == HTTPStatus.OK
    assert reads_of(lambda: post_token(shop, secret=secret))[1] == 0
    later = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    refused = post_token(shop, secret=secret)
    # As from the database: invalid_request, "client secret has expired" (Logto's answer).
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert refused.json()["error_description"] == "client secret has expired"


def test_a_hook_that_changes_its_context_does_not_change_the_cache(shop: Shop) -> None:
    seen: list[Any] = []

    def hook(*, token: Any, context: Any, environment_variables: Any, api: Any) -> dict[str, Any]:
        application = context["application"]
        seen.append(dict(application["customData"]))
        application["customData"]["tampered"] = True
        return {"plan": application["customData"].get("plan")}

    M2MApplication.objects.filter(pk=shop.app.pk).update(custom_data={"plan": "pro"})
    with override_settings(
        LOGTO_M2M={"ISSUER": "https://auth.example.com/oidc", "THROTTLE_RATES": None, "CUSTOM_CLAIMS": hook}
    ):
        for _ in range(3):
            assert post_token(shop).status_code == HTTPStatus.OK
    assert seen == [{"plan": "pro"}] * 3


# -- revocation in this process: every path the admin, the API and the ORM take ------------------


def management_api() -> APIClient:
    """A Management API client holding ``all``."""
    m2m, secret = create_m2m_application("Admin script", roles=[ensure_management_role()])
    body = {"grant_type": "client_credentials", "resource": MGMT, "scope": "all"}
    basic = "Basic " + base64.b64encode(f"{m2m.client_id}:{secret}".encode()).decode()
    response = APIClient().post("/oidc/token", urlencode(body), content_type=FORM, HTTP_AUTHORIZATION=basic)
    assert response.status_code == HTTPStatus.OK, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    return client


def _disable_by_save(shop: Shop) -> None:
    shop.app.is_enabled = False
    shop.app.save()


REVOCATIONS: dict[str, tuple[Callable[[Shop], Any], int, str]] = {
    # name: (the change, the status then, the error then)
    "app disabled (save)": (_disable_by_save, 400, "unauthorized_client"),
    "app disabled (queryset update)": (
        lambda s: M2MApplication.objects.filter(pk=s.app.pk).update(is_enabled=False),
        400,
        "unauthorized_client",
    ),
    "app deleted": (lambda s: s.app.application.delete(), 401, "invalid_client"),
    "legacy secret deleted": (lambda s: revoke_default_secret(s.app), 401, "invalid_client"),
    "legacy secret reset": (lambda s: reset_default_secret(s.app), 401, "invalid_client"),
    "DOT secret changed by queryset, then announced": (
        lambda s: (
            get_application_model().objects.filter(pk=s.app.pk).update(client_secret=""),
            grant_cache.announce_change(),
        ),
        401,
        "invalid_client",
    ),
}
SCOPE_LOSSES: dict[str, Callable[[Shop], Any]] = {
    "role removed from the app": lambda s: s.app.roles.remove(s.role),
    "app's roles cleared": lambda s: s.app.roles.clear(),
    "app-role link deleted through the Management API": lambda s: management_api().delete(
        f"/api/applications/{s.client_id}/roles/{s.role.pk}"
    ),
    "app-role link deleted from the role's side": lambda s: management_api().delete(
        f"/api/roles/{s.role.pk}/applications/{s.client_id}"
    ),
    "scope removed from the role": lambda s: s.role.scopes.remove(s.read),
    "role-scope link deleted through the Management API": lambda s: management_api().delete(
        f"/api/roles/{s.role.pk}/scopes/{s.read.pk}"
    ),
    # Django sends no signal for an auto-created through model's rows: the documented way is announce-change.
    "app-role link row deleted directly, then announced": lambda s: (
        M2MApplication.roles.through.objects.filter(role=s.role).delete(),
        grant_cache.announce_change(),
    ),
    "role deleted": lambda s: s.role.delete(),
    "role made a User role (queryset update)": lambda s: Role.objects.filter(pk=s.role.pk).update(type="User"),
    "scope deleted": lambda s: s.read.delete(),
    "scope renamed": lambda s: Scope.objects.filter(pk=s.read.pk).update(name="read:other"),
}


@pytest.mark.parametrize("change", list(REVOCATIONS), ids=list(REVOCATIONS))
def test_revocation_takes_effect_on_the_next_request(shop: Shop, change: str) -> None:
    revoke, status, error = REVOCATIONS[change]
    warm(shop)
    revoke(shop)
    response = post_token(shop)
    assert response.status_code == status, response.content
    assert response.json()["error"] == error


@pytest.mark.parametrize("change", list(SCOPE_LOSSES), ids=list(SCOPE_LOSSES))
def test_a_lost_scope_is_no_longer_granted_on_the_next_request(shop: Shop, change: str) -> None:
    warm(shop)
    SCOPE_LOSSES[change](shop)
    response = post_token(shop)
    assert response.status_code == HTTPStatus.OK, response.content
    assert "scope" not in response.json()


def test_a_deleted_named_secret_is_refused_on_the_next_request(shop: Shop) -> None:
    row, secret = add_secret(shop.app, "rotating")
    assert post_token(shop, secret=secret).status_code == HTTPStatus.OK
    assert reads_of(lambda: post_token(shop, secret=secret))[1] == 0
    row.delete()
    assert post_token(shop, secret=secret).status_code == HTTPStatus.UNAUTHORIZED


def test_a_secret_expired_by_a_queryset_update_is_refused(shop: Shop) -> None:
    row, secret = add_secret(shop.app, "rotating")
    assert post_token(shop, secret=secret).status_code == HTTPStatus.OK
    ApplicationSecret.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert post_token(shop, secret=secret).json()["error_description"] == "client secret has expired"


def test_a_changed_lifetime_is_used_on_the_next_request(shop: Shop) -> None:
    warm(shop)
    Resource.objects.filter(pk=shop.resource.pk).update(access_token_ttl=120)
    assert post_token(shop).json()["expires_in"] == 120


def test_a_granted_scope_is_granted_on_the_next_request(shop: Shop) -> None:
    warm(shop, scope="read:products write:products")
    shop.role.scopes.add(shop.write)
    assert post_token(shop, scope="read:products write:products").json()["scope"] == "read:products write:products"


def counter_version() -> int:
    return int(ChangeCounter.objects.filter(channel=grant_cache.CHANNEL).values_list("version", flat=True).first() or 0)


def test_the_last_used_stamp_announces_nothing(shop: Shop) -> None:
    warm(shop)
    before = counter_version()
    M2MApplication.objects.filter(pk=shop.app.pk).update(last_used_at=None)
    ApplicationSecret.objects.filter(application=shop.app).update(last_used_at=None)
    assert counter_version() == before
    assert reads_of(lambda: post_token(shop))[1] == 0


@pytest.mark.django_db(transaction=True)
def test_a_change_rolled_back_announces_nothing(shop: Shop) -> None:
    start = counter_version()
    with transaction.atomic():
        try:
            with transaction.atomic():
                Role.objects.create(name="Rolled back")
                raise RuntimeError
        except RuntimeError:
            pass
    assert counter_version() == start
    Role.objects.create(name="Kept")
    assert counter_version() == start + 1


def test_a_read_that_began_before_a_change_is_not_stored(shop: Shop) -> None:
    cache = grant_cache.grant_cache
    generation = cache.start()
    assert generation is not None
    cache.invalidate()  # a change noticed while the read was under way
    cache.store_grant(shop.app.pk, SHOP, None, generation)
    assert cache.grant(shop.app.pk, SHOP) is grant_cache.MISSING


# -- revocation made by another process --------------------------------------------------------


def other_process_disables(shop: Shop, cache_kind: str) -> None:
    """Another process disables the app and commits: the row, the counter, and the shared copy."""
    table = M2MApplication._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET is_enabled = %s WHERE application_id = %s", [False, shop.app.pk])
    updated = ChangeCounter.objects.filter(pk=grant_cache.CHANNEL).update(version=F("version") + 1)
    if not updated:
        ChangeCounter.objects.create(channel=grant_cache.CHANNEL, version=1)
    version = ChangeCounter.objects.get(pk=grant_cache.CHANNEL).version
    if cache_kind == "redis":
        caches["default"].set(changes.cache_key(grant_cache.CHANNEL), version, changes.CACHE_TTL_SECONDS)


def test_another_process_s_change_reaches_this_one(shop: Shop, cache_kind: str, clock: FakeClock) -> None:
    warm(shop)
    other_process_disables(shop, cache_kind)
    if cache_kind == "locmem":
        # No shared cache: the change is noticed at the next check, at most KEY_CHANGE_CHECK_SECONDS later.
        assert post_token(shop).status_code == HTTPStatus.OK
        clock.now += INTERVAL
    response = post_token(shop)  # with a shared cache: the very next request
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "unauthorized_client"


@pytest.mark.redis
def test_with_redis_down_changes_arrive_within_the_interval(shop: Shop, clock: FakeClock) -> None:
    redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with override_settings(CACHES=redis):
        warm(shop)
        other_process_disables(shop, "locmem")  # its cache write is lost too
        assert post_token(shop).status_code == HTTPStatus.OK
        clock.now += INTERVAL + sharedcache.RETRY_SECONDS
        assert post_token(shop).status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.redis
def test_a_notice_lost_by_the_shared_cache_is_caught_by_the_database_check(shop: Shop, clock: FakeClock) -> None:
    """Redis up, but the notice's write to it was lost: the database check still finds the change."""
    redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", ""),
            "KEY_PREFIX": f"grant-cache-lost-{os.getpid()}",
        }
    }
    with override_settings(CACHES=redis):
        caches["default"].set(changes.cache_key(grant_cache.CHANNEL), 10_000)
        warm(shop)
        other_process_disables(shop, "locmem")  # the counter moves; the cache keeps its old number
        assert post_token(shop).status_code == HTTPStatus.OK
        clock.now += INTERVAL
        assert post_token(shop).status_code == HTTPStatus.BAD_REQUEST
        caches["default"].delete(changes.cache_key(grant_cache.CHANNEL))


@pytest.mark.redis
def test_with_throttling_the_notice_rides_in_the_counters_round_trip(shop: Shop) -> None:
    from redis.connection import AbstractConnection

    redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", ""),
            "KEY_PREFIX": f"grant-cache-trips-{os.getpid()}",
        }
    }
    rates = {"client": "1000/minute", "ip": "1000/minute", "failed": "1000/minute", "failed_ip": "1000/minute"}
    with override_settings(
        CACHES=redis, LOGTO_M2M={"ISSUER": "https://auth.example.com/oidc", "THROTTLE_RATES": rates}
    ):
        warm(shop)
        original = AbstractConnection.send_packed_command
        trips = 0

        def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal trips
            trips += 1
            return original(self, *args, **kwargs)

        AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
        try:
            response, reads = reads_of(lambda: post_token(shop))
        finally:
            AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
        assert response.status_code == HTTPStatus.OK
        assert (trips, reads) == (1, 0)
        other_process_disables(shop, "redis")
        assert post_token(shop).status_code == HTTPStatus.BAD_REQUEST


# -- the system check ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(300, []), (0, []), (-1, ["logto_m2m.E031"]), ("long", ["logto_m2m.E031"]), (None, ["logto_m2m.E031"])],
)
def test_the_grant_cache_setting_is_checked(value: Any, expected: list[str]) -> None:
    from django.conf import settings

    from logto_m2m_django.checks import check_grant_cache

    with override_settings(LOGTO_M2M={**settings.LOGTO_M2M, "GRANT_CACHE_SECONDS": value}):
        assert [message.id for message in check_grant_cache()] == expected
