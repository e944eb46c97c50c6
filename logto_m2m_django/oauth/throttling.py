"""Rate limits of the token endpoint, held in Django's cache and shared by every process.

Three fixed-window counters (``LOGTO_M2M["THROTTLE_RATES"]``):

``client``
    token requests per client ID (the ID the request claims, read before authentication);
``ip``
    token requests per client IP address;
``failed``
    failed client authentications (401 ``invalid_client``) per client IP address. It is
    keyed by IP, not by client ID, so that nobody can lock a client out by sending wrong
    secrets under its ID.

Cost: on Django's ``RedisCache`` the counters are incremented (and the failure counter
read) in one pipelined round trip per request; a failed authentication adds one more
round trip to count the failure. Other caches have no multi-increment: each counter then
costs one ``incr`` call (plus an ``add`` when its window starts), three calls per request,
which is free for the local-memory cache and one network round trip each for memcached.

When the cache is unreachable the endpoint fails open: requests are served unthrottled, a
warning is logged, and the cache is left alone for :data:`CACHE_RETRY_SECONDS` before the
next attempt (so an outage does not add a connection timeout to every request).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse

from ..conf import m2m_settings, on_reload
from .errors import error_response
from .validator import decode_basic

logger = logging.getLogger("logto_m2m_django.throttling")

#: Seconds the throttle leaves an unreachable cache alone before trying it again.
CACHE_RETRY_SECONDS = 5.0
#: The ``error`` code of a throttled request (429).
THROTTLED_ERROR = "too_many_requests"

_KINDS = ("client", "ip", "failed")
_PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_IP_ATTR = "_logto_m2m_throttle_ip"
#: Wall clock of the windows (tests replace it to freeze time).
clock = time.time


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` requests per ``period`` seconds."""

    limit: int
    period: int

    def window(self, now: float) -> tuple[int, int]:
        """The current window's index and the seconds left in it (at least 1)."""
        index = int(now // self.period)
        return index, max(1, int((index + 1) * self.period - now + 0.999))


def parse_rate(text: Any) -> Rate:
    """``"10/minute"``, ``"100/h"``, ``"5/30s"`` (5 per 30 seconds) or ``(10, 60)``."""
    if isinstance(text, (tuple, list)) and len(text) == 2:
        limit, period = int(text[0]), int(text[1])
    elif isinstance(text, str) and "/" in text:
        count, _, unit = text.strip().partition("/")
        unit = unit.strip().lower()
        digits = unit.rstrip("abcdefghijklmnopqrstuvwxyz")
        name = unit[len(digits) :] or "s"
        if name.endswith("s") and name[:-1] in _PERIODS:
            name = name[:-1]
        if name not in _PERIODS or not count.strip().isdigit() or (digits and not digits.isdigit()):
            raise ValueError(f"Not a rate: {text!r} (expected e.g. '10/minute').")
        limit, period = int(count), int(digits or 1) * _PERIODS[name]
    else:
        raise ValueError(f"Not a rate: {text!r} (expected e.g. '10/minute').")
    if limit < 1 or period < 1:
        raise ValueError(f"Not a rate: {text!r} (the count and the period must be positive).")
    return Rate(limit, period)


_rates: dict[str, Rate] | None = None


def configured_rates() -> dict[str, Rate]:
    """The enabled limits, parsed once per settings change."""
    global _rates
    rates = _rates
    if rates is None:
        rates = _rates = {kind: parse_rate(text) for kind, text in m2m_settings.THROTTLE_RATES.items()}
    return rates


class _CacheHealth:
    """Remembers a cache failure so that an outage is paid once per retry period, not per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_until = 0.0

    def usable(self) -> bool:
        return time.monotonic() >= self.down_until

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            first = self.usable()
            self.down_until = time.monotonic() + CACHE_RETRY_SECONDS
        if first:
            logger.warning(
                "Token endpoint throttling is off: the cache %r is unreachable (%s). Requests are served "
                "without rate limits; the cache is tried again in %.0f s.",
                m2m_settings.THROTTLE_CACHE,
                type(exc).__name__,
                CACHE_RETRY_SECONDS,
            )

    def reset(self) -> None:
        self.down_until = 0.0


health = _CacheHealth()


@on_reload
def reset() -> None:
    """Forget parsed rates and a remembered cache outage (settings changed)."""
    global _rates
    _rates = None
    health.reset()


# -- who is asking -------------------------------------------------------------


def client_ip(request: HttpRequest) -> str:
    """``REMOTE_ADDR``, or with ``THROTTLE_NUM_PROXIES`` = n the n-th ``X-Forwarded-For`` entry from the right."""
    proxies = m2m_settings.THROTTLE_NUM_PROXIES
    if proxies > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))][:64]
    return str(request.META.get("REMOTE_ADDR") or "")[:64]


def claimed_client_id(request: HttpRequest, params: list[tuple[str, str]]) -> str:
    """The client ID the request names (Basic header or body), unverified; "" when none."""
    header = request.META.get("HTTP_AUTHORIZATION") or ""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "basic":
        decoded = decode_basic(value)
        return decoded[0] if decoded else ""
    for key, param in params:
        if key == "client_id":
            return param
    return ""


def _key(kind: str, ident: str, rate: Rate, index: int) -> str:
    # Hashed: any client-supplied string becomes a short key that every cache accepts.
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"logto_m2m:throttle:{kind}:{rate.period}:{index}:{digest}"


# -- the counters --------------------------------------------------------------


def _redis_client(cache: BaseCache) -> Any | None:
    if isinstance(cache, RedisCache):
        return cache._cache.get_client(write=True)
    return None


def _round_trip(cache: BaseCache, increments: list[tuple[str, int]], reads: list[str]) -> list[int]:
    """Increment ``increments`` (key, ttl) and read ``reads``; the values, in that order."""
    client = _redis_client(cache)
    if client is not None:
        pipe = client.pipeline(transaction=False)
        for key, ttl in increments:
            full = cache.make_key(key)
            pipe.incr(full)
            pipe.expire(full, ttl)
        for key in reads:
            pipe.get(cache.make_key(key))
        replies = pipe.execute()
        counted = [int(replies[2 * i]) for i in range(len(increments))]
        return counted + [int(v or 0) for v in replies[2 * len(increments) :]]
    values = [_generic_incr(cache, key, ttl) for key, ttl in increments]
    for key in reads:
        value = cache.get(key)
        values.append(int(value) if isinstance(value, int) else 0)
    return values


def _generic_incr(cache: BaseCache, key: str, ttl: int) -> int:
    try:
        return int(cache.incr(key))
    except ValueError:
        # The window's first request: create the counter (another process may win the race).
        if cache.add(key, 1, ttl):
            return 1
        return int(cache.incr(key))


def _counters(increments: list[tuple[str, int]], reads: list[str]) -> list[int] | None:
    if not health.usable():
        return None
    try:
        return _round_trip(caches[m2m_settings.THROTTLE_CACHE], increments, reads)
    except Exception as exc:  # any cache backend error: fail open, documented in the module docstring
        health.failed(exc)
        return None


def check(request: HttpRequest) -> HttpResponse | None:
    """Count this token request; a 429 response when a limit is exceeded, else None.

    Call after the parameters were read into ``request.m2m_params``.
    """
    rates = configured_rates()
    if not rates:
        return None
    now = clock()
    ip = client_ip(request)
    setattr(request, _IP_ATTR, ip)
    increments: list[tuple[str, int]] = []
    counted: list[tuple[Rate, int]] = []
    for kind, ident in (("client", claimed_client_id(request, getattr(request, "m2m_params", []))), ("ip", ip)):
        rate = rates.get(kind)
        if rate is None or not ident:
            continue
        index, left = rate.window(now)
        increments.append((_key(kind, ident, rate, index), rate.period + 1))
        counted.append((rate, left))
    reads: list[str] = []
    failed = rates.get("failed")
    failed_left = 0
    if failed is not None and ip:
        index, failed_left = failed.window(now)
        reads.append(_key("failed", ip, failed, index))
    if not increments and not reads:
        return None
    values = _counters(increments, reads)
    if values is None:
        return None
    retry_after = 0
    for (rate, left), value in zip(counted, values, strict=False):
        if value > rate.limit:
            retry_after = max(retry_after, left)
    if reads and failed is not None and values[-1] >= failed.limit:
        retry_after = max(retry_after, failed_left)
    if not retry_after:
        return None
    return error_response(
        THROTTLED_ERROR,
        "Too many token requests; retry after the time given in Retry-After.",
        429,
        {"Retry-After": str(retry_after)},
    )


def record_failure(request: HttpRequest) -> None:
    """Count a failed client authentication (401 ``invalid_client``) against the caller's IP."""
    failed = configured_rates().get("failed")
    ip = getattr(request, _IP_ATTR, None)
    if ip is None:
        ip = client_ip(request)
    if failed is None or not ip:
        return
    index, _left = failed.window(clock())
    _counters([(_key("failed", ip, failed, index), failed.period + 1)], [])
