"""Control-plane change notices: one version counter per channel, watched by every process.

A change that other processes must see (today the signing keys, channel ``"keys"``) calls
:func:`announce` inside the transaction that makes it. That bumps the channel's row in
:class:`~logto_m2m_django.models.ChangeCounter`, so a rolled-back change announces nothing;
on commit, the new version is also written to the shared cache (``THROTTLE_CACHE``) when that
cache is seen by every process.

Each process holds a :class:`Watcher` per channel. :meth:`Watcher.poll` costs one clock
comparison; at most once per ``KEY_CHANGE_CHECK_SECONDS`` it reads the channel's version: one
cache GET when the cache is shared and answering, else (``LocMemCache``, the cache down or the
entry missing) one primary-key read of the counter row. The cache holds the database's number,
so either source can be compared with the version seen last. Never a query per request.

Cache writes go through :mod:`._internal.sharedcache` (one circuit breaker). A notice whose cache write
failed (the cache down, or this process's breaker open, at the time) is not lost: the process that made it
writes the database's number again at its next look at the channel once the cache answers
(:func:`republish`), and every process reads the database once the cache entry is gone; the entry expires
after :data:`CACHE_TTL_SECONDS`, which bounds the wait even when the announcing process has exited (the
CLI). A watcher made with
``database_only=True`` reads the counter row itself, whatever the cache says: the backstop of a reader
that otherwise trusts the cache's copy (the grant cache, :mod:`logto_m2m_django.grant_cache`).

The process that makes a change learns of it at once: :func:`subscribe` registers a callback run when
the change is announced (so the rest of its transaction, and a test's, already sees it) and again
after it commits (so that nothing read by another thread in between survives).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F

from ._internal import sharedcache
from .conf import m2m_settings, on_reload
from .models import ChangeCounter

logger = logging.getLogger("logto_m2m_django.changes")

#: Seconds the cache keeps a channel's version; a missing entry is read from the database (and put back) by the
#: first process that finds it gone: about one indexed read per minute for the whole deployment, and the longest
#: a notice whose cache write failed can go unseen by processes that trust the cache.
CACHE_TTL_SECONDS = 60

#: Per channel, the newest version this process announced and could not write to the shared cache. Cleared only
#: by a write of that version or a newer one: a retry that read the database just before another announcement of
#: this process committed (and failed to reach the cache too) must not forget that one.
_unpublished: dict[str, int] = {}
_unpublished_lock = threading.Lock()

#: Monotonic clock of the watchers (tests replace it).
clock = time.monotonic


def cache_key(channel: str) -> str:
    return f"logto_m2m:changes:{channel}"


def _cache_alias() -> str | None:
    """The alias of the shared cache, or None when it is private to this process (LocMemCache)."""
    alias = m2m_settings.THROTTLE_CACHE
    return alias if sharedcache.is_shared(alias) else None


#: Callbacks of this process per channel (see :func:`subscribe`).
_listeners: dict[str, list[Callable[[], None]]] = {}


def subscribe(channel: str, callback: Callable[[], None]) -> None:
    """Run ``callback`` in this process whenever this process announces a change on ``channel``:
    at once, and again once the change has committed."""
    _listeners.setdefault(channel, []).append(callback)


def _tell_listeners(channel: str) -> None:
    for callback in _listeners.get(channel, ()):
        callback()


class _Publication:
    """The on-commit callback of one announcement: the shared cache's copy, then this process's listeners."""

    __slots__ = ("channel", "version")

    def __init__(self, channel: str, version: int) -> None:
        self.channel = channel
        self.version = version

    def __call__(self) -> None:
        _publish(self.channel, self.version)
        _tell_listeners(self.channel)


def announce(channel: str) -> int:
    """Record a change on ``channel`` in the current transaction; returns the new version.

    Every process notices it within ``KEY_CHANGE_CHECK_SECONDS`` after the commit; this process's
    :func:`subscribe` callbacks run at once and after the commit.
    """
    _tell_listeners(channel)
    with transaction.atomic():
        bumped = ChangeCounter.objects.filter(pk=channel).update(version=F("version") + 1)
        if not bumped:
            try:
                with transaction.atomic():
                    ChangeCounter.objects.create(channel=channel, version=1)
            except IntegrityError:  # another transaction created the row first
                ChangeCounter.objects.filter(pk=channel).update(version=F("version") + 1)
        # The row is locked by our UPDATE until commit: this is our own number.
        version = int(ChangeCounter.objects.filter(pk=channel).values_list("version", flat=True).get())
    transaction.on_commit(_Publication(channel, version))
    return version


def _publish(channel: str, version: int) -> None:
    alias = _cache_alias()
    if alias is None:
        return
    if _write(alias, channel, version):
        _written(channel, version)
        return
    with _unpublished_lock:
        _unpublished[channel] = max(version, _unpublished.get(channel, 0))
    logger.warning(
        "Change %r (version %d) not written to the cache; this process writes it once the cache answers again, "
        "and other processes read it from the database within %d s at the latest.",
        channel,
        version,
        CACHE_TTL_SECONDS,
    )


def _write(alias: str, channel: str, version: int) -> bool:
    return sharedcache.call(alias, lambda c: c.set(cache_key(channel), version, CACHE_TTL_SECONDS) or True, False)


def _written(channel: str, version: int) -> None:
    """``version`` reached the cache: nothing is owed any more unless a newer announcement failed meanwhile."""
    with _unpublished_lock:
        if _unpublished.get(channel, 0) <= version:
            _unpublished.pop(channel, None)


def unpublished() -> frozenset[str]:
    """The channels whose latest announcement by this process the shared cache has not taken yet."""
    return frozenset(_unpublished.keys())


def republish(channel: str) -> None:
    """After an announcement of this process failed to reach the shared cache: write the database's version
    (the newest, whoever announced it) once the cache answers again. Nothing to do otherwise (one set lookup)."""
    if channel not in _unpublished:
        return
    alias = _cache_alias()
    if alias is None:
        _unpublished.pop(channel, None)
        return
    if not sharedcache.breaker.usable():
        return
    version = _database_version(channel)
    if version is not None and _write(alias, channel, version):
        _written(channel, version)
        logger.info("Change %r (version %d) written to the cache after an earlier failure.", channel, version)


def _database_version(channel: str) -> int | None:
    try:
        row = ChangeCounter.objects.filter(pk=channel).values_list("version", flat=True).first()
    except DatabaseError:
        logger.warning("Change notices for %r not read: the database is unavailable.", channel)
        return None
    return int(row or 0)


#: :func:`read_shared`'s answer when the shared cache is absent or not answering.
UNAVAILABLE = object()


def shared_key(channel: str) -> str | None:
    """The channel's key in the shared cache (without the cache's prefix), or None when there is no shared
    cache: for a caller that reads it within a round trip of its own (the throttle's pipeline)."""
    return cache_key(channel) if _cache_alias() is not None else None


def read_shared(channel: str) -> object:
    """The channel's version as the shared cache holds it: an int, None when the entry is missing, or
    :data:`UNAVAILABLE` when there is no shared cache or it does not answer. One cache GET."""
    alias = _cache_alias()
    if alias is None:
        return UNAVAILABLE
    value = sharedcache.call(alias, lambda c: c.get(cache_key(channel)), UNAVAILABLE)
    return value if value is UNAVAILABLE else as_version(value)


def as_version(value: object) -> int | None:
    """A cached value as a version number (None for a missing or foreign value)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_version(channel: str) -> int | None:
    """The channel's version: from the shared cache when it answers, else from the database.

    None when neither answers (the caller keeps what it has).
    """
    alias = _cache_alias()
    if alias is None:
        return _database_version(channel)
    missing = sharedcache.unavailable()
    value = as_version(sharedcache.call(alias, lambda c: c.get(cache_key(channel), missing), missing))
    if value is not None:
        return value
    return restore_shared(channel)


def restore_shared(channel: str) -> int | None:
    """The database's version, after the shared cache was found without it (or not answering); put back
    into the cache for the other processes. None when the database does not answer either."""
    version = _database_version(channel)
    alias = _cache_alias()
    if version is not None and alias is not None and sharedcache.breaker.usable():
        # ``add`` never overwrites a newer number written meanwhile by an announcement.
        sharedcache.call(alias, lambda c: c.add(cache_key(channel), version, CACHE_TTL_SECONDS), False)
    return version


class Watcher:
    """Tells one process, cheaply, when a channel changed in any process."""

    def __init__(self, channel: str, *, database_only: bool = False) -> None:
        self.channel = channel
        self.database_only = database_only
        self.seen: int | None = None
        self._next_check = -1e18
        self._lock = threading.Lock()

    def poll(self) -> bool:
        """True when the channel changed since the last look (checked at most once per interval).

        The first look reports a change too: the caller loads what the channel protects after
        the version was read, so a change committed meanwhile is reported by the next look.
        """
        if clock() < self._next_check:
            return False
        if not self._lock.acquire(blocking=False):
            return False  # another thread of this process is looking right now
        try:
            interval = m2m_settings.KEY_CHANGE_CHECK_SECONDS
            if interval <= 0:  # checks turned off: changes arrive with the KEY_CACHE_SECONDS reload
                self._next_check = 1e18
                return False
            now = clock()
            if now < self._next_check:
                return False
            self._next_check = now + interval
            republish(self.channel)
            version = _database_version(self.channel) if self.database_only else read_version(self.channel)
            if version is None or version == self.seen:
                return False
            self.seen = version
            return True
        finally:
            self._lock.release()

    def reset(self) -> None:
        """Look afresh at the next poll, as a new process would (the settings changed)."""
        self.seen = None
        self._next_check = -1e18


_watchers: weakref.WeakSet[Watcher] = weakref.WeakSet()


def watcher(channel: str, *, database_only: bool = False) -> Watcher:
    """A new watcher of ``channel``, reset when the settings change."""
    created = Watcher(channel, database_only=database_only)
    _watchers.add(created)
    return created


@on_reload
def reset_watchers() -> None:
    """Every watcher of this process looks afresh at its next poll (and a write owed to the cache the settings
    named before is dropped: the database has the number)."""
    _unpublished.clear()
    for each in list(_watchers):
        each.reset()
