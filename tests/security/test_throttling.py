"""Token endpoint rate limits: per client, per IP, failed authentications; cache outages fail open."""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache.backends.locmem import LocMemCache

from logto_m2m_django._internal import counters, sharedcache
from logto_m2m_django.conf import m2m_settings
from logto_m2m_django.oauth import throttling
from logto_m2m_django.provisioning import create_application
from tests.conftest import FORM, SHOP

pytestmark = pytest.mark.django_db

#: The defaults documented in the README's Settings reference.
SHIPPED_RATES = {"client": "600/minute", "ip": "1200/minute", "failed": "20/minute", "failed_ip": "100/minute"}
BODY = urlencode({"grant_type": "client_credentials", "resource": SHOP})


class Clock:
    """A frozen wall clock for the throttle windows, unique per test so counters never collide."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0 + random.randrange(1, 10**6) * 86_400 + 0.5

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(throttling, "clock", frozen)
    return frozen


@pytest.fixture
def throttle(settings: Any, clock: Clock) -> Iterator[Callable[..., None]]:
    """Turn throttling on with the given rates (others off)."""

    def _set(**rates: Any) -> None:
        merged = {"client": None, "ip": None, "failed": None, "failed_ip": None, **rates}
        settings.LOGTO_M2M = {**settings.LOGTO_M2M, "THROTTLE_RATES": merged}

    throttling.reset()
    sharedcache.breaker.reset()
    yield _set
    throttling.reset()
    sharedcache.breaker.reset()


def _ip() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture
def post(api_client: Any) -> Callable[..., Any]:
    def _post(authorization: str | None, ip: str, body: str = BODY, **extra: Any) -> Any:
        if authorization is not None:
            extra["HTTP_AUTHORIZATION"] = authorization
        return api_client.post("/oidc/token", body, content_type=FORM, REMOTE_ADDR=ip, **extra)

    return _post


def assert_throttled(response: Any, period: int) -> None:
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS, response.content
    assert 1 <= int(response["Retry-After"]) <= period
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == "too_many_requests"
    assert isinstance(body["error_description"], str)


def test_per_client_limit(shop, throttle, post, clock):
    throttle(client="3/minute")
    ip = _ip()
    for _ in range(3):
        assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    assert_throttled(post(shop.basic(), ip), 60)
    # The limit is the client's, wherever it calls from ...
    assert_throttled(post(shop.basic(), _ip()), 60)
    # ... and does not touch another client.
    other, other_secret = create_application("Other app", roles=[shop.role])
    assert post(shop.basic(other.client_id, other_secret), ip).status_code == HTTPStatus.OK
    # The next window starts afresh.
    clock.now += 60
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK


def test_per_client_limit_with_client_secret_post(shop, throttle, post):
    throttle(client="2/hour")
    body = BODY + "&" + urlencode({"client_id": shop.client_id, "client_secret": shop.secret})
    ip = _ip()
    assert post(None, ip, body).status_code == HTTPStatus.OK
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    assert_throttled(post(None, ip, body), 3600)


def test_retry_after_is_the_rest_of_the_window(shop, throttle, post, clock):
    throttle(client="1/minute")
    clock.now = (clock.now // 60) * 60 + 45.5
    ip = _ip()
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    response = post(shop.basic(), ip)
    assert_throttled(response, 60)
    assert response["Retry-After"] == "15"


def test_per_ip_limit(shop, throttle, post):
    throttle(ip="2/minute")
    other, other_secret = create_application("Other app", roles=[shop.role])
    ip = _ip()
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    assert post(shop.basic(other.client_id, other_secret), ip).status_code == HTTPStatus.OK
    assert_throttled(post(shop.basic(), ip), 60)
    assert_throttled(post(None, ip, "garbage=1"), 60)
    assert post(shop.basic(), _ip()).status_code == HTTPStatus.OK


def test_failed_authentication_ceiling_blocks_the_address(shop, throttle, post):
    throttle(failed_ip="3/minute", failed="100/minute", client="100/minute", ip="100/minute")
    ip = _ip()
    wrong = [shop.basic(secret="wrong"), shop.basic(client_id="unknown-app", secret="x"), "Basic !!!"]
    for authorization in wrong:
        response = post(authorization, ip)
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json()["error"] == "invalid_client"
    # The address is now blocked, even with the right secret ...
    assert_throttled(post(shop.basic(), ip), 60)
    # ... but the client is not locked out from elsewhere.
    assert post(shop.basic(), _ip()).status_code == HTTPStatus.OK


def test_failed_authentication_with_client_secret_post_is_counted(shop, throttle, post):
    throttle(failed="2/minute")
    ip = _ip()
    body = BODY + "&" + urlencode({"client_id": shop.client_id, "client_secret": "wrong"})
    for _ in range(2):
        assert post(None, ip, body).status_code == HTTPStatus.UNAUTHORIZED
    assert_throttled(post(None, ip, body), 60)


def test_only_failed_authentication_counts_as_failure(shop, throttle, post):
    throttle(failed="2/minute")
    ip = _ip()
    successes_and_other_errors = [
        (BODY, HTTPStatus.OK),
        (urlencode({"grant_type": "client_credentials", "resource": "https://unknown.api"}), HTTPStatus.BAD_REQUEST),
        (urlencode({"grant_type": "password", "resource": SHOP}), HTTPStatus.BAD_REQUEST),
        (urlencode({"grant_type": "client_credentials", "resource": SHOP, "scope": "nope"}), HTTPStatus.OK),
    ]
    for body, status in successes_and_other_errors * 2:
        assert post(shop.basic(), ip, body).status_code == status
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK


def test_spoofed_forwarded_for_is_ignored_without_proxies(shop, throttle, post):
    throttle(ip="1/minute")
    ip = _ip()
    assert post(shop.basic(), ip, HTTP_X_FORWARDED_FOR=_ip()).status_code == HTTPStatus.OK
    assert_throttled(post(shop.basic(), ip, HTTP_X_FORWARDED_FOR=_ip()), 60)


def test_forwarded_for_behind_a_proxy(shop, throttle, post, settings):
    throttle(ip="1/minute")
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "THROTTLE_NUM_PROXIES": 1}
    proxy, first, second = _ip(), _ip(), _ip()
    assert post(shop.basic(), proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.4, {first}").status_code == HTTPStatus.OK
    assert post(shop.basic(), proxy, HTTP_X_FORWARDED_FOR=second).status_code == HTTPStatus.OK
    # The client can prepend anything; the entry the proxy added is the one that counts.
    assert_throttled(post(shop.basic(), proxy, HTTP_X_FORWARDED_FOR=f"9.9.9.9, {first}"), 60)


def test_throttling_off_touches_no_cache(shop, settings, post, monkeypatch):
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "THROTTLE_RATES": None}

    def no_cache(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the cache was used with throttling off")

    monkeypatch.setattr(counters, "exchange", no_cache)
    monkeypatch.setattr(throttling, "exchange", no_cache)
    monkeypatch.setattr(throttling, "increment", no_cache)
    ip = _ip()
    for _ in range(3):
        assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    assert post(shop.basic(secret="wrong"), ip).status_code == HTTPStatus.UNAUTHORIZED


def test_rates_merge_over_the_defaults(settings):
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "THROTTLE_RATES": {"failed": "5/minute", "ip": None}}
    assert m2m_settings.THROTTLE_RATES == {"client": "600/minute", "failed": "5/minute", "failed_ip": "100/minute"}
    settings.LOGTO_M2M = {k: v for k, v in settings.LOGTO_M2M.items() if k != "THROTTLE_RATES"}
    assert m2m_settings.THROTTLE_RATES == SHIPPED_RATES


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/minute", throttling.Rate(10, 60)),
        ("10/min", throttling.Rate(10, 60)),
        ("5/s", throttling.Rate(5, 1)),
        ("5/30s", throttling.Rate(5, 30)),
        ("100/hour", throttling.Rate(100, 3600)),
        ("7/days", throttling.Rate(7, 86400)),
        ("3/2h", throttling.Rate(3, 7200)),
        ((4, 10), throttling.Rate(4, 10)),
    ],
)
def test_parse_rate(text, rate):
    assert throttling.parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "10", "ten/minute", "10/fortnight", "0/minute", "-1/minute", "5/0s", None, 10])
def test_parse_rate_refuses_nonsense(text):
    with pytest.raises(ValueError):
        throttling.parse_rate(text)


# -- the cache is unreachable: fail open ----------------------------------------------------


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BrokenCache(LocMemCache):
    """A cache whose every call fails as a network cache does when its server is gone."""

    def incr(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server gone")

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server gone")

    def add(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server gone")


@pytest.mark.parametrize(
    "backend",
    [
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:{port}/0"},
        {"BACKEND": "tests.security.test_throttling.BrokenCache"},
    ],
    ids=["redis-dead-port", "generic-broken"],
)
def test_unreachable_cache_fails_open_with_one_warning(shop, throttle, post, settings, caplog, backend):
    throttle(client="1/minute", ip="1/minute", failed="1/minute")
    location = backend.get("LOCATION", "").format(port=_dead_port())
    settings.CACHES = {**settings.CACHES, "throttle": {**backend, "LOCATION": location}}
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "THROTTLE_CACHE": "throttle"}
    caplog.set_level(logging.WARNING, logger="logto_m2m_django.cache")
    ip = _ip()
    # Over every limit, yet served: the counters can't be kept, so nothing is refused.
    for _ in range(3):
        assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    for _ in range(2):
        assert post(shop.basic(secret="wrong"), ip).status_code == HTTPStatus.UNAUTHORIZED
    warnings = [r for r in caplog.records if r.name == "logto_m2m_django.cache"]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0].getMessage() and "Throttling is off" in warnings[0].getMessage()
    assert shop.secret not in caplog.text


def test_throttling_resumes_when_the_cache_returns(shop, throttle, post, monkeypatch):
    throttle(client="1/minute")
    real = counters._generic_exchange

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server gone")

    monkeypatch.setattr(counters, "_generic_exchange", down)
    monkeypatch.setattr(counters, "_redis_client", lambda cache: None)
    now = [1000.0]
    monkeypatch.setattr(sharedcache, "clock", lambda: now[0])
    ip = _ip()
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    monkeypatch.setattr(counters, "_generic_exchange", real)
    # Within the breaker's retry period the cache is left alone ...
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    # ... and used again once it is over.
    now[0] += sharedcache.RETRY_SECONDS
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    assert_throttled(post(shop.basic(), ip), 60)


# -- Redis: the counters cost one round trip ---------------------------------------------------


@pytest.mark.redis
def test_redis_counters_take_one_round_trip(shop, throttle, post, monkeypatch, settings):
    import redis

    throttle(client="100/minute", ip="100/minute", failed="100/minute")
    # The key-change notice (a GET at most once per KEY_CHANGE_CHECK_SECONDS, tested in
    # test_keys.py) is switched off so that only the throttle's own round trips are counted.
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "KEY_CHANGE_CHECK_SECONDS": 0}
    assert post(shop.basic(), _ip()).status_code == HTTPStatus.OK  # warm-up: loads the keys
    trips: list[str] = []
    real_execute = redis.client.Pipeline.execute
    real_command = redis.Redis.execute_command

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append("pipeline")
        return real_execute(self, *args, **kwargs)

    def command(self: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(str(args[0]))
        return real_command(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", execute)
    monkeypatch.setattr(redis.Redis, "execute_command", command)
    ip = _ip()
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    assert trips == ["pipeline"]
    trips.clear()
    # A failed authentication adds the one write that counts it.
    assert post(shop.basic(secret="wrong"), ip).status_code == HTTPStatus.UNAUTHORIZED
    assert trips == ["pipeline", "pipeline"]
    trips.clear()
    # client_secret_post: its credentials are in the body, read after the address was counted.
    body = BODY + "&" + urlencode({"client_id": shop.client_id, "client_secret": shop.secret})
    assert post(None, ip, body).status_code == HTTPStatus.OK
    assert trips == ["pipeline", "pipeline"]


@pytest.mark.parametrize(
    ("overrides", "ids"),
    [
        ({"THROTTLE_RATES": {"client": "lots"}}, ["logto_m2m.E020"]),
        ({"THROTTLE_RATES": {"ip": "0/minute", "failed": "3/fortnight"}}, ["logto_m2m.E020", "logto_m2m.E020"]),
        ({"THROTTLE_RATES": {"client": "5/minute"}, "THROTTLE_CACHE": "nope"}, ["logto_m2m.E021"]),
        ({"THROTTLE_RATES": None, "THROTTLE_CACHE": "nope"}, []),
        ({"THROTTLE_RATES": {"client": "5/minute", "ip": None}}, []),
    ],
)
def test_system_check_of_the_throttle_settings(settings, overrides, ids):
    from logto_m2m_django.checks import check_throttling

    settings.LOGTO_M2M = {**settings.LOGTO_M2M, **overrides}
    assert [problem.id for problem in check_throttling()] == ids


def test_throttled_request_costs_no_query(shop, throttle, post, django_assert_num_queries):
    throttle(client="1/minute")
    ip = _ip()
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    with django_assert_num_queries(0):
        assert_throttled(post(shop.basic(), ip), 60)


# -- nobody can lock out a client they are not ------------------------------------------------


def test_wrong_secrets_under_a_client_id_do_not_spend_its_budget(shop, throttle, post):
    throttle(client="3/minute", failed="5/minute")
    attacker, home = _ip(), _ip()
    answers = [post(shop.basic(secret=f"guess-{i}"), attacker).status_code for i in range(12)]
    assert answers == [HTTPStatus.UNAUTHORIZED] * 5 + [HTTPStatus.TOO_MANY_REQUESTS] * 7
    # The client's own budget is whole: three tokens, then its own limit.
    for _ in range(3):
        assert post(shop.basic(), home).status_code == HTTPStatus.OK
    assert_throttled(post(shop.basic(), home), 60)


def test_requests_refused_with_429_count_nowhere_else(shop, throttle, post):
    throttle(client="3/minute", ip="2/minute")
    crowded, home = _ip(), _ip()
    assert post(shop.basic(), crowded).status_code == HTTPStatus.OK
    assert post(shop.basic(), crowded).status_code == HTTPStatus.OK
    for _ in range(5):
        assert_throttled(post(shop.basic(), crowded), 60)
    # The five refused requests did not spend the client's budget: one token is left.
    assert post(shop.basic(), home).status_code == HTTPStatus.OK
    assert_throttled(post(shop.basic(), home), 60)


def test_failures_are_limited_per_address_and_client(shop, throttle, post):
    throttle(failed="3/minute", failed_ip="6/minute")
    other, other_secret = create_application("Other app", roles=[shop.role])
    ip = _ip()
    for _ in range(3):
        assert post(shop.basic(secret="wrong"), ip).status_code == HTTPStatus.UNAUTHORIZED
    # That (address, client ID) pair has used its failures, even with the right secret ...
    assert_throttled(post(shop.basic(), ip), 60)
    assert_throttled(post(shop.basic(secret="wrong"), ip), 60)
    # ... while another client at the same address is served, and the same client elsewhere.
    assert post(shop.basic(other.client_id, other_secret), ip).status_code == HTTPStatus.OK
    assert post(shop.basic(), _ip()).status_code == HTTPStatus.OK
    # The address-wide ceiling: three more failures under other IDs (the refused ones above did not count).
    for i in range(3):
        assert post(shop.basic(client_id=f"guess-{i}", secret="x"), ip).status_code == HTTPStatus.UNAUTHORIZED
    assert_throttled(post(shop.basic(other.client_id, other_secret), ip), 60)
    assert post(shop.basic(other.client_id, other_secret), _ip()).status_code == HTTPStatus.OK


def test_failures_without_credentials_count_against_the_address(shop, throttle, post):
    throttle(failed="100/minute", failed_ip="2/minute")
    ip = _ip()
    assert post(None, ip).status_code == HTTPStatus.UNAUTHORIZED
    assert post("Basic !!!", ip).status_code == HTTPStatus.UNAUTHORIZED
    assert_throttled(post(shop.basic(), ip), 60)


def test_twenty_five_failures_of_one_client_leave_its_neighbours_alone(shop, throttle, post):
    throttle(**SHIPPED_RATES)
    other, other_secret = create_application("Other app", roles=[shop.role])
    nat = _ip()
    answers = [post(shop.basic(secret="wrong"), nat).status_code for _ in range(25)]
    assert answers.count(HTTPStatus.UNAUTHORIZED) == 20
    assert answers[20:] == [HTTPStatus.TOO_MANY_REQUESTS] * 5
    assert post(shop.basic(other.client_id, other_secret), nat).status_code == HTTPStatus.OK


# -- malformed requests -------------------------------------------------------------------------


MALFORMED: list[dict[str, Any]] = [
    {"path": "/oidc/token?grant_type=client_credentials"},
    {"body": "grant_type=%zz"},
    {"body": b"grant_type=\xff\xfe"},
    {"content_type": "text/plain"},
    {"body": "x=" + "a" * 20_000},
]


def _malformed(api_client: Any, ip: str, index: int) -> Any:
    case = MALFORMED[index % len(MALFORMED)]
    return api_client.post(
        case.get("path", "/oidc/token"),
        case.get("body", BODY),
        content_type=case.get("content_type", FORM),
        REMOTE_ADDR=ip,
    )


def test_malformed_requests_count_against_the_address(shop, throttle, post, api_client):
    throttle(ip="5/minute")
    ip = _ip()
    statuses = [_malformed(api_client, ip, i).status_code for i in range(5)]
    assert statuses == [400, 400, 400, 400, 413]
    assert_throttled(post(shop.basic(), ip), 60)


def test_a_limited_address_sending_malformed_requests_writes_no_rows(shop, throttle, post, api_client):
    from logto_m2m_django.models import TokenActivity

    throttle(ip="2/minute")
    ip = _ip()
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK
    rows = TokenActivity.objects.count()
    for i in range(400):
        assert_throttled(_malformed(api_client, ip, i), 60)
    assert TokenActivity.objects.count() == rows


def test_malformed_requests_are_refused_before_the_body_is_read(shop, throttle, post, api_client, monkeypatch):
    from logto_m2m_django.oauth import views

    throttle(ip="1/minute")
    ip = _ip()
    assert post(shop.basic(), ip).status_code == HTTPStatus.OK

    def no_parsing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the body of a request from a limited address was read")

    monkeypatch.setattr(views, "extract_params", no_parsing)
    assert_throttled(_malformed(api_client, ip, 1), 60)


# -- which address ------------------------------------------------------------------------------


def test_unix_socket_requests_share_one_address_and_warn_once(shop, throttle, post, caplog):
    throttle(ip="2/minute")
    caplog.set_level(logging.WARNING, logger="logto_m2m_django.throttling")
    assert post(shop.basic(), "").status_code == HTTPStatus.OK
    assert post(shop.basic(), "").status_code == HTTPStatus.OK
    assert_throttled(post(shop.basic(), ""), 60)
    warnings = [r.getMessage() for r in caplog.records if r.name == "logto_m2m_django.throttling"]
    assert len(warnings) == 1
    assert "THROTTLE_NUM_PROXIES" in warnings[0]


def test_forwarded_for_without_proxies_warns_once(shop, throttle, post, caplog):
    throttle(ip="100/minute")
    caplog.set_level(logging.WARNING, logger="logto_m2m_django.throttling")
    for _ in range(3):
        assert post(shop.basic(), _ip(), HTTP_X_FORWARDED_FOR=_ip()).status_code == HTTPStatus.OK
    warnings = [r.getMessage() for r in caplog.records if r.name == "logto_m2m_django.throttling"]
    assert len(warnings) == 1
    assert "X-Forwarded-For" in warnings[0] and "THROTTLE_NUM_PROXIES" in warnings[0]


@pytest.mark.parametrize(
    ("django_settings", "num_proxies", "ids"),
    [
        ({"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}, 0, ["logto_m2m.W020"]),
        ({"USE_X_FORWARDED_HOST": True}, 0, ["logto_m2m.W020"]),
        ({"USE_X_FORWARDED_PORT": True}, 0, ["logto_m2m.W020"]),
        ({"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}, 1, []),
        ({}, 0, []),
    ],
)
def test_system_check_warns_of_a_proxy_with_no_proxies_counted(settings, django_settings, num_proxies, ids):
    from logto_m2m_django.checks import check_throttling

    for name, value in django_settings.items():
        setattr(settings, name, value)
    settings.LOGTO_M2M = {
        **settings.LOGTO_M2M,
        "THROTTLE_RATES": {"ip": "10/minute"},
        "THROTTLE_NUM_PROXIES": num_proxies,
    }
    assert [problem.id for problem in check_throttling()] == ids


def test_no_proxy_warning_with_throttling_off(settings):
    from logto_m2m_django.checks import check_throttling

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "THROTTLE_RATES": None}
    assert check_throttling() == []
