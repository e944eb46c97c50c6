"""The token endpoint's reads, kept in each process: 0 SQL per token request in steady state.

A token request reads two things from the database: the client (its application, M2M record and secrets)
and its grant (the resource and the scopes its roles give it there). Both change rarely, so each process
keeps what it read in a :class:`GrantCache`, and every change that could alter an answer empties the
caches of every process, through the change notices of :mod:`logto_m2m_django.changes` (channel
``"grants"``, the same mechanism as the signing keys):

* **Who announces.** Saving or deleting an application (django-oauth-toolkit's and its M2M record), a
  secret, a role, a resource or a scope, and every change of the links between applications and roles and
  between roles and scopes (``signals.py``); the ``update()``, ``bulk_create()`` and ``bulk_update()`` of
  these models' querysets (``models._notify``); and this package's own ``update()`` of the application
  model's secret. Only the "last used" stamps, which the token endpoint writes itself, announce nothing.
* **How fast every process hears it.** With a shared cache (``THROTTLE_CACHE`` is Redis, memcached...),
  each token request reads the channel's version within the throttle counters' round trip (a pipeline on
  Redis; one more GET when throttling is off), so a disabled app, a deleted secret or a removed role is
  refused from the **next request** on, in every process. Without one (``LocMemCache``), or while it does
  not answer, each process reads the counter row at most once per ``KEY_CHANGE_CHECK_SECONDS``. In both
  cases that database read also runs once per interval as a backstop, should a notice's cache write have
  been lost. The process that makes the change empties its own cache at once.
* **What may be served from it.** A client is found by a keyed hash of the ID *and the secret presented*
  (the throttle's credential digest), stored only after that secret was verified against the database.
  A wrong secret therefore always takes the database path, exactly as an unknown client ID does, so the
  cache reveals nothing about which IDs exist or are in use (DESIGN §3). Grants are kept per
  (application, resource) for applications that authenticated; organization tokens are always read.
  The custom-claims hook always receives a copy of the application's context.
* **Races.** A reader notes the cache's generation before it reads the database and stores its answer only
  if no invalidation happened meanwhile, so an answer read before a change can't outlive its notice.
* **Bounds.** At most :data:`MAX_CLIENTS` clients and :data:`MAX_GRANTS` grants (least recently used
  dropped first), each kept at most ``GRANT_CACHE_SECONDS``: the longest a change made outside Django's ORM
  (raw SQL, another program) goes unnoticed; ``manage.py m2m announce-change`` tells every process at once.

``GRANT_CACHE_SECONDS = 0`` turns the cache off (two reads per token request); so does
``KEY_CHANGE_CHECK_SECONDS = 0``, which turns the change checks off.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import replace
from typing import Any, Generic, TypeVar

from . import changes
from .conf import m2m_settings, on_reload

#: The change-notice channel of everything the token endpoint reads about clients and grants.
CHANNEL = "grants"
#: Most clients (application and secret pairs) one process keeps.
MAX_CLIENTS = 1024
#: Most (application, resource) grants one process keeps.
MAX_GRANTS = 4096

#: Monotonic clock of the entries' ages (tests replace it).
clock = time.monotonic

V = TypeVar("V")

#: What :meth:`GrantCache.grant` answers when it holds nothing for the key.
MISSING: Any = object()


class _Entries(Generic[V]):
    """A bounded map of entries stamped with the generation and time they were read at."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[Hashable, tuple[V, float]] = OrderedDict()

    def get(self, key: Hashable, oldest: float) -> V:
        found = self._items.get(key)
        if found is None:
            return MISSING
        value, read_at = found
        if read_at < oldest:
            self._items.pop(key, None)
            return MISSING
        with contextlib.suppress(KeyError):  # dropped by another thread meanwhile
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V, read_at: float) -> None:
        self._items[key] = (value, read_at)
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


class GrantCache:
    """One process's copy of clients and grants, emptied by every change notice on :data:`CHANNEL`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Bumped by every invalidation; a read started under an older generation is not stored.
        self.generation = 0
        self.clients: _Entries[Any] = _Entries(MAX_CLIENTS)
        self.grants: _Entries[Any] = _Entries(MAX_GRANTS)
        self._database = changes.watcher(CHANNEL, database_only=True)
        self._shared_seen: int | None = None

    # -- freshness ----------------------------------------------------------------------------

    @staticmethod
    def enabled() -> bool:
        return m2m_settings.GRANT_CACHE_SECONDS > 0 and m2m_settings.KEY_CHANGE_CHECK_SECONDS > 0

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1
            self.clients.clear()
            self.grants.clear()

    def reset(self) -> None:
        """Empty the cache and look afresh at the notices, as a new process would."""
        self.invalidate()
        self._shared_seen = None
        self._database.reset()

    def start(self, shared_version: object = changes.UNAVAILABLE) -> int | None:
        """Bring the cache up to date at the start of a token request; the generation its reads belong to.

        ``shared_version`` is the channel's version as read from the shared cache in the throttle's round
        trip (an int; None when the entry is missing), or ``changes.UNAVAILABLE`` when it was not read
        there: then it is read here (one GET) when there is a shared cache. None when the cache is off.
        """
        if not self.enabled():
            return None
        if self._database.poll():  # at most once per KEY_CHANGE_CHECK_SECONDS: the backstop
            self.invalidate()
        if shared_version is changes.UNAVAILABLE:
            shared_version = changes.read_shared(CHANNEL)
        if shared_version is None:
            # The entry expired or was evicted: the database's number, which also puts it back.
            shared_version = changes.restore_shared(CHANNEL)
        if isinstance(shared_version, int) and shared_version != self._shared_seen:
            self._shared_seen = shared_version
            self.invalidate()
        return self.generation

    @staticmethod
    def shared_key() -> str | None:
        """The channel's key for the throttle's round trip; None when the cache is off or not shared."""
        return changes.shared_key(CHANNEL) if GrantCache.enabled() else None

    def _oldest(self) -> float:
        return clock() - m2m_settings.GRANT_CACHE_SECONDS

    # -- clients -------------------------------------------------------------------------------

    def client(self, digest: str) -> Any:
        """The client stored under ``digest`` (a copy), or None."""
        found = self.clients.get(digest, self._oldest())
        if found is MISSING:
            return None
        if found.application is not None:
            # The custom-claims hook receives it: a hook that changes it must not change the cache.
            return replace(found, application=copy.deepcopy(found.application))
        return replace(found)

    def store_client(self, digest: str, client: Any, generation: int | None) -> None:
        if generation is None:
            return
        # A copy of its own: the request goes on with (and the hook may change) the original.
        stored = replace(client, application=copy.deepcopy(client.application))
        self._store(self.clients, digest, stored, generation)

    def touch_client(self, digest: str, **changes_: Any) -> None:
        """Update fields of a stored client in place (e.g. the "last used" time just written)."""
        with self._lock:
            found = self.clients.get(digest, self._oldest())
            if found is not MISSING:
                for name, value in changes_.items():
                    setattr(found, name, value)

    # -- grants --------------------------------------------------------------------------------

    def grant(self, application_pk: Any, indicator: str | None) -> Any:
        """The stored grant (a ``Grant``, or None for "no such resource"), or ``MISSING``."""
        return self.grants.get((application_pk, indicator), self._oldest())

    def store_grant(self, application_pk: Any, indicator: str | None, grant: Any, generation: int | None) -> None:
        self._store(self.grants, (application_pk, indicator), grant, generation)

    def _store(self, entries: _Entries[Any], key: Hashable, value: Any, generation: int | None) -> None:
        if generation is None:
            return
        with self._lock:
            if generation == self.generation:  # no change was noticed since the read began
                entries.put(key, value, clock())


#: The process's cache.
grant_cache = GrantCache()


def announce_change() -> int:
    """Tell every process that clients or grants changed (inside the change's transaction)."""
    return changes.announce(CHANNEL)


changes.subscribe(CHANNEL, grant_cache.invalidate)


on_reload(grant_cache.reset)
