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

``peek`` names plain keys read in the same round trip (on Redis, the same pipeline), for a caller that
needs another value at the same moment (the grant cache's change notice).

Every call goes through :func:`~logto_m2m_django._internal.sharedcache.call`: when the
cache fails, :func:`exchange` returns None and the caller fails open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

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


class Exchanged(NamedTuple):
    """What :func:`exchange` read: ``first``'s values, ``then``'s (None when refused), the peeked keys."""

    values: list[int]
    spent: list[int] | None
    peeked: dict[str, int | None]


def _peeked_int(raw: Any) -> int | None:
    """A raw Redis reply as Django's RedisCache stores an int (plain digits), else None."""
    if isinstance(raw, bytes) and raw.lstrip(b"-").isdigit():
        return int(raw)
    return None


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
    client: Any, cache: BaseCache, first: Step, then: Step, refused: Callable[[list[int]], bool], peek: Sequence[str]
) -> Exchanged:
    pipe = client.pipeline(transaction=False)
    for key in peek:
        pipe.get(cache.make_key(key))
    _queue_increments(pipe, cache, first.increments, 1)
    for key in first.reads:
        pipe.get(cache.make_key(key))
    _queue_increments(pipe, cache, then.increments, 1)
    replies = pipe.execute()
    peeked = {key: _peeked_int(raw) for key, raw in zip(peek, replies, strict=False)}
    replies = replies[len(peek) :]
    done = 2 * len(first.increments)
    values = [int(replies[2 * i]) for i in range(len(first.increments))]
    values += [int(value or 0) for value in replies[done : done + len(first.reads)]]
    later = replies[done + len(first.reads) :]
    if not refused(values):
        return Exchanged(values, [int(later[2 * i]) for i in range(len(then.increments))], peeked)
    if then.increments:
        undo = client.pipeline(transaction=False)
        _queue_increments(undo, cache, then.increments, -1)
        undo.execute()
    return Exchanged(values, None, peeked)


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
    cache: BaseCache, first: Step, then: Step, refused: Callable[[list[int]], bool], peek: Sequence[str]
) -> Exchanged:
    found = cache.get_many(list(peek)) if peek else {}
    peeked = {key: found.get(key) if type(found.get(key)) is int else None for key in peek}
    values = [_generic_incr(cache, counter) for counter in first.increments]
    values += [_generic_read(cache, key) for key in first.reads]
    if refused(values):
        return Exchanged(values, None, peeked)
    return Exchanged(values, [_generic_incr(cache, counter) for counter in then.increments], peeked)


def exchange(
    alias: str, first: Step, then: Step, refused: Callable[[list[int]], bool], peek: Sequence[str] = ()
) -> Exchanged | None:
    """What the counters said (see :class:`Exchanged`); None when the cache is unavailable.

    ``first``'s values are its increments' new values followed by its reads (0 for a missing counter);
    a peeked key's value is an int, or None when missing or not an int.
    """

    def run(cache: BaseCache) -> Exchanged:
        client = _redis_client(cache)
        if client is not None:
            return _redis_exchange(client, cache, first, then, refused, peek)
        return _generic_exchange(cache, first, then, refused, peek)

    return sharedcache.call(alias, run, None)


def increment(alias: str, counters: Sequence[Counter]) -> None:
    """Increment ``counters`` (one round trip on Redis); nothing when the cache is unavailable."""
    if counters:
        exchange(alias, Step(increments=counters), Step(), lambda values: False)
