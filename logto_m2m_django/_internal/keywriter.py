"""The writing half of the key store: create, rotate (immediate, staged, grace period), promote, delete.

Each change locks the key rows (``select_for_update``) and announces itself on the ``"keys"``
change channel in the same transaction, so that every process reloads its keys.
:class:`~logto_m2m_django.keys.KeyStore` inherits these methods; use them through ``key_store``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from django.db import IntegrityError, transaction

from .. import changes
from ..conf import SUPPORTED_ALGORITHMS, m2m_settings
from ..models import KeyStatus, SigningKey
from ..tokens import jwk_thumbprint, public_jwk
from . import keycrypto
from .keycrypto import KeyInUseError, KeyNotFoundError, KeyStoreError, LastKeyError, NextKeyStagedError, unsupported

logger = logging.getLogger("logto_m2m_django.keys")
#: The change-notice channel of the signing keys (see :mod:`logto_m2m_django.changes`).
CHANNEL = "keys"


def announce_key_change() -> None:
    """Record, in the current transaction, that the signing keys changed (every process reloads them)."""
    changes.announce(CHANNEL)


def new_key_row(algorithm: str, status: str, effective_at: datetime | None = None) -> SigningKey:
    private_key = keycrypto.generate_private_key(algorithm)
    jwk = public_jwk(private_key.public_key(), algorithm, kid="")
    kid = jwk_thumbprint(jwk)
    jwk["kid"] = kid
    return SigningKey(
        kid=kid,
        algorithm=algorithm,
        status=status,
        public_jwk=jwk,
        private_key_encrypted=keycrypto.encrypt(private_key),
        effective_at=effective_at,
    )


class KeyWriter:
    """Key changes; the subclass supplies the clock and drops its in-memory keys (``invalidate``)."""

    def now(self) -> float:  # pragma: no cover - KeyStore overrides it
        raise NotImplementedError

    def invalidate(self) -> None:  # pragma: no cover - KeyStore overrides it
        raise NotImplementedError

    def wall_time(self, offset: float = 0.0) -> datetime:
        """``now()`` plus ``offset`` seconds, as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now() + offset, tz=timezone.utc)

    def ensure_current_key(self, algorithm: str | None = None) -> None:
        """Create a Current key if there is none; safe when processes race."""
        algorithm = algorithm or m2m_settings.SIGNING_ALGORITHM
        if SigningKey.objects.filter(status=KeyStatus.CURRENT).exists():
            return
        row = new_key_row(algorithm, KeyStatus.CURRENT)
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            # Another process created it first; the unique constraint kept one.
            pass
        self.invalidate()

    def rotate(
        self, algorithm: str | None = None, *, staged: bool = False, grace_period: float | None = None
    ) -> SigningKey:
        """Rotate the signing key.

        Immediate (default): the Next key (if one is staged) or a new key becomes Current, the
        Current key becomes Previous, and older Previous keys are removed (as Logto keeps one).
        Staged (``staged=True``): a new key becomes Next; it is published in the JWKS at once and
        becomes Current at the next immediate rotation. With a ``grace_period`` (seconds, > 0) the
        new Next key also gets an ``effective_at`` and the key store promotes it by itself then.
        """
        algorithm = algorithm or m2m_settings.SIGNING_ALGORITHM
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise unsupported(algorithm)
        if grace_period is not None and grace_period < 0:
            raise KeyStoreError("The grace period can't be negative.")
        if grace_period:
            staged = True
        effective_at = self.wall_time(grace_period) if grace_period else None
        new_row = new_key_row(algorithm, KeyStatus.NEXT if staged else KeyStatus.CURRENT, effective_at)
        for attempt in range(5):
            try:
                with transaction.atomic():
                    result = self._rotate_locked(new_row, staged)
                    announce_key_change()
                transaction.on_commit(self.invalidate)
                self.invalidate()
                return result
            except IntegrityError:
                # A concurrent rotation won the race; retry on top of its result.
                if attempt == 4:
                    raise
                new_row.pk = None
        raise KeyStoreError("rotation failed")  # pragma: no cover

    def _rotate_locked(self, new_row: SigningKey, staged: bool) -> SigningKey:
        keys = list(SigningKey.objects.select_for_update().order_by("pk"))
        staged_next = [k for k in keys if k.status == KeyStatus.NEXT]
        if staged:
            if staged_next:
                raise NextKeyStagedError(
                    "A Next key is already staged; promote it (immediate rotation) or delete it first."
                )
            new_row.save()
            return new_row
        if staged_next:
            return self._promote_locked(staged_next[0])
        new_row.effective_at = self.wall_time()
        self._demote_current()
        new_row.save()
        return new_row

    @staticmethod
    def _demote_current() -> None:
        SigningKey.objects.filter(status=KeyStatus.PREVIOUS).delete()
        SigningKey.objects.filter(status=KeyStatus.CURRENT).update(status=KeyStatus.PREVIOUS)

    def _promote_locked(self, row: SigningKey) -> SigningKey:
        """Next → Current, Current → Previous, the older Previous removed (rows locked by the caller)."""
        self._demote_current()
        effective_at = row.effective_at if row.effective_at is not None else self.wall_time()
        SigningKey.objects.filter(pk=row.pk).update(status=KeyStatus.CURRENT, effective_at=effective_at)
        row.status, row.effective_at = KeyStatus.CURRENT, effective_at
        return row

    def promote_due(self) -> SigningKey | None:
        """Persist the promotion of a staged Next key whose ``effective_at`` has passed.

        Idempotent and race free: the keys are locked (``select_for_update``) and the Next key is
        looked up again under the lock, so of several processes noticing at once one promotes and
        the others find nothing to do (None).
        """
        now = self.wall_time()
        with transaction.atomic():
            keys = list(SigningKey.objects.select_for_update().order_by("pk"))
            due = [k for k in keys if k.status == KeyStatus.NEXT and k.effective_at and k.effective_at <= now]
            if not due:
                return None
            promoted = self._promote_locked(due[0])
            announce_key_change()
        transaction.on_commit(self.invalidate)
        self.invalidate()
        logger.info("Staged signing key %s promoted: it signs new tokens now.", promoted.kid)
        return promoted

    def delete(self, kid: str) -> None:
        """Delete a Previous or Next key. The Current key (and so the last key) can't be deleted."""
        with transaction.atomic():
            row = SigningKey.objects.select_for_update().filter(kid=kid).first()
            if row is None:
                raise KeyNotFoundError("No such key.")
            if SigningKey.objects.count() <= 1:  # Logto checks this first (oidc.key_required)
                if row.status == KeyStatus.CURRENT:
                    raise LastKeyError("The Current key can't be deleted; rotate first (it is also the last key).")
                raise LastKeyError("The last key can't be deleted.")
            if row.status == KeyStatus.CURRENT:
                raise KeyInUseError("The Current key can't be deleted; rotate first.")
            row.delete()
            announce_key_change()
        transaction.on_commit(self.invalidate)
        self.invalidate()
