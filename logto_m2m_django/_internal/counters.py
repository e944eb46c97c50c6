"""Fixed-window counters in Django's cache, behind the shared circuit breaker.

:func:`exchange` runs one throttle decision's cache work: ``first`` (counters to
increment and counters to read) and ``then`` (counters to increment only when
``refused`` says the first values let the request through).

On Django's ``RedisCache`` everything goes out in one pipelined round trip, ``then``
included, optimistically; when the request turns out refused, the ``then``
increments are taken back in a second round trip (paid only by refused requests),
so a refused request leaves those counters as it found them. Other caches have no
multi-key operations: each counter is one call (``incr``, plus an ``add`` when its
window starts), made in order, and ``then`` is not touched when ``first`` refuses.

Every call goes through :func:`~logto_m2m_django._internal.sharedcache.call`: when the
cache fails, :func:`exchange` returns None and the caller fails open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import BaseCache
from django.core.cache.backends.redis import RedisCache

from . import sharedcache


@dataclass(frozen=True, slots=True)
class Counter:
    """One window's counter: its cache key and how long it must outlive the window (seconds)."""

    key: str
    ttl: int


@dataclass(frozen=True, slots=True)
class Step:
    """Counters to increment and counters to read."""

    increments: Sequence[Counter] = ()
    reads: Sequence[str] = ()


def _redis_client(cache: BaseCache) -> Any | None:
    if isinstance(cache, RedisCache):
        return cache._cache.get_client(write=True)
    return None


def _queue_increments(pipe: Any, cache: BaseCache, counters: Sequence[Counter], delta: int) -> None:
    for counter in counters:
        full = cache.make_key(counter.key)
        pipe.incrby(full, delta)
        # Always (also after a decrement that recreated an expired key): no counter outlives its window.
        pipe.expire(full, counter.ttl)


def _redis_exchange(
    client: Any, cache: BaseCache, first: Step, then: Step, refused: Callable[[list[int]], bool]
) -> tuple[list[int], list[int] | None]:
    pipe = client.pipeline(transaction=False)
    _queue_increments(pipe, cache, first.increments, 1)
    for key in first.reads:
        pipe.get(cache.make_key(key))
    _queue_increments(pipe, cache, then.increments, 1)
    replies = pipe.execute()
    done = 2 * len(first.increments)
    values = [int(replies[2 * i]) for i in range(len(first.increments))]
    values += [int(value or 0) for value in replies[done : done + len(first.reads)]]
    later = replies[done + len(first.reads) :]
    if not refused(values):
        return values, [int(later[2 * i]) for i in range(len(then.increments))]
    if then.increments:
        undo = client.pipeline(transaction=False)
        _queue_increments(undo, cache, then.increments, -1)
        undo.execute()
    return values, None


def _generic_incr(cache: BaseCache, counter: Counter) -> int:
    try:
        return int(cache.incr(counter.key))
    except ValueError:
        # The window's first request: create the counter (another process may win the race).
        if cache.add(counter.key, 1, counter.ttl):
            return 1
        return int(cache.incr(counter.key))


def _generic_read(cache: BaseCache, key: str) -> int:
    value = cache.get(key)
    return value if isinstance(value, int) else 0


def _generic_exchange(
    cache: BaseCache, first: Step, then: Step, refused: Callable[[list[int]], bool]
) -> tuple[list[int], list[int] | None]:
    values = [_generic_incr(cache, counter) for counter in first.increments]
    values += [_generic_read(cache, key) for key in first.reads]
    if refused(values):
        return values, None
    return values, [_generic_incr(cache, counter) for counter in then.increments]


def exchange(
    alias: str, first: Step, then: Step, refused: Callable[[list[int]], bool]
) -> tuple[list[int], list[int] | None] | None:
    """``(first's values, then's values or None when refused)``; None when the cache is unavailable.

    ``first``'s values are its increments' new values followed by its reads (0 for a missing counter).
    """

    def run(cache: BaseCache) -> tuple[list[int], list[int] | None]:
        client = _redis_client(cache)
        if client is not None:
            return _redis_exchange(client, cache, first, then, refused)
        return _generic_exchange(cache, first, then, refused)

    return sharedcache.call(alias, run, None)


def increment(alias: str, counters: Sequence[Counter]) -> None:
    """Increment ``counters`` (one round trip on Redis); nothing when the cache is unavailable."""
    if counters:
        exchange(alias, Step(increments=counters), Step(), lambda values: False)
