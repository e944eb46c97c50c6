"""The signing key store: create, rotate, promote, load once per process, JWKS.

Private keys are stored encrypted (:mod:`._internal.keycrypto`). Each process parses its keys once
and keeps them in memory: signing and validating a token touch neither the database nor the PEM parser.

Every change (rotation, staging, promotion, deletion) is announced on the ``"keys"`` channel of
:mod:`logto_m2m_django.changes` in its own transaction. Signing, validation and the JWKS all poll
that channel, so each process reloads its keys within ``KEY_CHANGE_CHECK_SECONDS`` of a change made
in any process, whatever the cache backend. The in-memory copy is also refreshed after
``KEY_CACHE_SECONDS``, and (rate-limited) when a token names an unknown ``kid``.

Grace-period rotation: a Next key staged with an ``effective_at`` is published at once and signs
from that time on, with no second command. Every process that holds it in memory switches to it by
itself when the time comes (a clock comparison, no query), and the first to notice also persists
the promotion (Next → Current, Current → Previous) under ``select_for_update`` and announces it;
the others find nothing left to promote. Promotion is idempotent, so racing processes are harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError

from . import changes
from ._internal import keycrypto
from ._internal.keycrypto import (
    KeyInUseError,
    KeyNotFoundError,
    KeyStoreError,
    LastKeyError,
    NextKeyStagedError,
    UnsupportedAlgorithmError,
    generate_private_key,
)
from ._internal.keywriter import CHANNEL, KeyWriter, announce_key_change, new_key_row
from .conf import m2m_settings, on_reload
from .models import KeyStatus, SigningKey
from .tokens import SigningMaterial, VerificationKey, key_from_jwk

__all__ = [
    "CHANNEL",
    "KeyInUseError",
    "KeyNotFoundError",
    "KeyStore",
    "KeyStoreError",
    "LastKeyError",
    "NextKeyStagedError",
    "UnsupportedAlgorithmError",
    "announce_key_change",
    "generate_private_key",
    "key_store",
]

logger = logging.getLogger("logto_m2m_django.keys")
#: Seconds before retrying a key reload that failed because the database was unreachable.
KEY_RELOAD_RETRY_SECONDS = 5.0
#: ``Cache-Control: max-age`` of the JWKS document: how long a remote validator may keep it.
JWKS_MAX_AGE = 300

#: Wall clock (epoch seconds) deciding when a staged key is due (tests replace it).
clock = time.time

# Older names, kept for the tests and tools that used them.
_decrypt = keycrypto.decrypt
_new_key_row = new_key_row


@dataclass
class _Snapshot:
    signing: SigningMaterial | None
    verification: dict[str, VerificationKey]
    jwks: list[dict[str, Any]]
    loaded_at: float
    version: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: Why the signing private key can't be used (it does not decrypt); public keys still work.
    signing_error: KeyStoreError | None = None
    #: Epoch seconds at which the staged Next key becomes the signing key (None: nothing scheduled).
    promote_at: float | None = None
    #: The staged Next key's row, to sign with once ``promote_at`` has passed.
    staged: SigningKey | None = None


def _material(row: SigningKey) -> SigningMaterial:
    return SigningMaterial(row.kid, row.algorithm, keycrypto.decrypt(row.private_key_encrypted))


class KeyStore(KeyWriter):
    """The process-wide key cache in front of the ``SigningKey`` table (writes: :class:`KeyWriter`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._version = 0
        self._last_unknown_refresh = -1e9
        self._watcher = changes.watcher(CHANNEL)

    # -- reading -------------------------------------------------------------

    @property
    def version(self) -> int:
        """Changes whenever the in-memory key set is replaced (or a change elsewhere was noticed)."""
        self._poll()
        return self._version

    def _poll(self) -> None:
        """Drop the keys in memory when any process announced a key change (cheap; checks per interval)."""
        if self._watcher.poll():
            self.invalidate()

    def _current(self) -> _Snapshot:
        snap = self._snapshot
        if snap is None or time.monotonic() - snap.loaded_at > m2m_settings.KEY_CACHE_SECONDS:
            try:
                snap = self._load()
            except DatabaseError:
                if snap is None:
                    raise
                # The database is unreachable: keep validating with the keys in memory, retry soon.
                logger.warning("Signing keys not reloaded: the database is unavailable; using the keys in memory.")
                snap.loaded_at = time.monotonic() - m2m_settings.KEY_CACHE_SECONDS + KEY_RELOAD_RETRY_SECONDS
        if snap.promote_at is not None and clock() >= snap.promote_at:
            snap = self._promote_staged(snap)
        return snap

    def _load(self) -> _Snapshot:
        with self._lock:
            rows = list(SigningKey.objects.all())
            now = clock()
            current = next((row for row in rows if row.status == KeyStatus.CURRENT), None)
            staged = next((r for r in rows if r.status == KeyStatus.NEXT and r.effective_at is not None), None)
            promote_at = staged.effective_at.timestamp() if staged and staged.effective_at else None
            signer = staged if promote_at is not None and now >= promote_at else current
            signing = None
            signing_error = None
            verification: dict[str, VerificationKey] = {}
            jwks = []
            for row in rows:
                verification[row.kid] = VerificationKey(
                    row.kid, row.algorithm, key_from_jwk(row.public_jwk, row.algorithm)
                )
                jwks.append(dict(row.public_jwk))
            if signer is not None:
                try:
                    signing = _material(signer)
                except KeyStoreError as exc:
                    # Signing is impossible, but validating tokens and publishing the JWKS
                    # need only the public keys: keep serving those.
                    logger.error("%s", exc)
                    signing_error = exc
            old = self._snapshot
            if old is None or set(old.verification) != set(verification):
                self._version += 1
            snap = _Snapshot(signing, verification, jwks, time.monotonic(), self._version)
            snap.signing_error = signing_error
            snap.promote_at, snap.staged = promote_at, staged
            self._snapshot = snap
            return snap

    def _promote_staged(self, snap: _Snapshot) -> _Snapshot:
        """The staged key's time has come: persist the promotion (or see that another process did), reload.

        Without a database, this process signs with the staged key anyway and tries again later.
        """
        try:
            self.promote_due()
            return self._load()
        except DatabaseError:
            logger.warning("The staged signing key is due but its promotion could not be saved; signing with it.")
        staged = snap.staged
        if staged is not None and (snap.signing is None or snap.signing.kid != staged.kid):
            try:
                snap.signing, snap.signing_error = _material(staged), None
            except KeyStoreError as exc:
                snap.signing, snap.signing_error = None, exc
        snap.promote_at = None  # retried with the next reload
        snap.loaded_at = time.monotonic() - m2m_settings.KEY_CACHE_SECONDS + KEY_RELOAD_RETRY_SECONDS
        return snap

    def signing_material(self) -> SigningMaterial:
        """The key that signs now (Current, or a staged Next key whose time has come); the first key
        is created on first need.

        A change made in another process is used within ``KEY_CHANGE_CHECK_SECONDS``.
        """
        self._poll()
        snap = self._current()
        if snap.signing_error is not None:
            raise snap.signing_error
        if snap.signing is None:
            self.ensure_current_key()
            snap = self._load()
            if snap.signing_error is not None:
                raise snap.signing_error
            if snap.signing is None:  # pragma: no cover - only if the row vanished in between
                raise KeyStoreError("No current signing key.")
        return snap.signing

    def find(self, kid: str) -> VerificationKey | None:
        """The public key for ``kid``; an unknown kid reloads the set (rate-limited)."""
        self._poll()
        key = self._current().verification.get(kid)
        if key is None:
            now = time.monotonic()
            if now - self._last_unknown_refresh >= m2m_settings.UNKNOWN_KID_REFRESH_COOLDOWN:
                self._last_unknown_refresh = now
                try:
                    key = self._load().verification.get(kid)
                except DatabaseError:
                    logger.warning("Unknown key ID not looked up: the database is unavailable.")
        return key

    def jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517 §5): Current, Next and Previous public keys."""
        self._poll()
        snap = self._current()
        if snap.signing is None and snap.signing_error is None:
            self.signing_material()
            snap = self._current()
        return {"keys": list(snap.jwks)}

    def invalidate(self) -> None:
        """Drop the in-memory keys; the next use reloads them.

        The version changes at once, so that tokens verified against the old
        key set (e.g. by a key deleted in this process) are checked again.
        """
        with self._lock:
            self._snapshot = None
            self._version += 1

    def now(self) -> float:
        return clock()


key_store = KeyStore()


@on_reload
def _reset_key_store() -> None:
    key_store.invalidate()
