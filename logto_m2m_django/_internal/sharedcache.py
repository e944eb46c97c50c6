"""The shared cache as the token path uses it: one circuit breaker for every call.

The token endpoint and the key-change watcher use Django's cache (Redis in production)
for throttle counters and change notices. A cache that refuses connections costs little,
but one that hangs costs a socket timeout per call. :func:`call` runs every such cache
operation behind one process-wide breaker: after a failure, the cache is left alone for
:data:`RETRY_SECONDS` and each caller falls back at once (throttling fails open, change
notices fall back to the database's version counter). So a request never waits more than
one timeout, and an outage is paid once per retry period per process, not per request.

:func:`is_shared` tells whether a cache alias is seen by every process (Redis, memcached,
the database or file cache) or private to one (``LocMemCache``, ``DummyCache``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger("logto_m2m_django.cache")

#: Seconds the breaker leaves an unreachable cache alone before trying it again.
RETRY_SECONDS = 5.0

T = TypeVar("T")

#: Monotonic clock of the breaker (tests replace it).
clock = time.monotonic


class CircuitBreaker:
    """Open after one failure, for ``RETRY_SECONDS``; then one call is let through to probe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_until = 0.0
        self.failures = 0

    def usable(self) -> bool:
        return clock() >= self.down_until

    def failed(self, alias: str, exc: BaseException) -> None:
        with self._lock:
            first = self.usable()
            self.down_until = clock() + RETRY_SECONDS
            self.failures += 1
        if first:
            logger.warning(
                "The cache %r is unreachable (%s: %s). Throttling is off and change notices are read from "
                "the database until it answers; it is tried again in %.0f s.",
                alias,
                type(exc).__name__,
                exc,
                RETRY_SECONDS,
            )

    def reset(self) -> None:
        with self._lock:
            self.down_until = 0.0
            self.failures = 0


breaker = CircuitBreaker()

_UNAVAILABLE: Any = object()


def call(alias: str, operation: Callable[[Any], T], default: T) -> T:
    """``operation(caches[alias])``, or ``default`` at once while the breaker is open or when it fails."""
    if not breaker.usable():
        return default
    try:
        return operation(caches[alias])
    except Exception as exc:  # any backend error (connection refused, timeout, protocol): fail over
        breaker.failed(alias, exc)
        return default


def is_shared(alias: str) -> bool:
    """True when every process sees the same entries under ``alias``."""
    try:
        backend = caches[alias]
    except Exception:
        return False
    return not isinstance(backend, (LocMemCache, DummyCache))


def unavailable() -> Any:
    """A sentinel for :func:`call`'s ``default`` that no cache value can equal."""
    return _UNAVAILABLE
