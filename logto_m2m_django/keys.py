"""The signing key store: create, rotate, encrypt at rest, load once per process, JWKS.

Private keys are stored encrypted with Fernet (AES-128-CBC + HMAC-SHA-256)
under a key derived from ``SECRET_KEY`` (or ``LOGTO_M2M["SECRET_HASH_KEY"]``);
``SECRET_KEY_FALLBACKS`` still decrypt, so ``SECRET_KEY`` can be rotated the
Django way. Each process parses its keys once and keeps them in memory:
signing and validating a token touch neither the database nor the PEM parser.

Every change (rotation, staging, promotion, deletion) is announced on the
``"keys"`` channel of :mod:`logto_m2m_django.changes` in its own transaction.
Signing, validation and the JWKS all poll that channel, so each process
reloads its keys within ``KEY_CHANGE_CHECK_SECONDS`` of a change made in any
process, whatever the cache backend. The in-memory copy is also refreshed
after ``KEY_CACHE_SECONDS``, and (rate-limited) when a token names an unknown
``kid``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.db import DatabaseError, IntegrityError, transaction

from . import changes
from .conf import SUPPORTED_ALGORITHMS, m2m_settings, on_reload
from .models import KeyStatus, SigningKey
from .tokens import SigningMaterial, VerificationKey, jwk_thumbprint, key_from_jwk, public_jwk

logger = logging.getLogger("logto_m2m_django.keys")
#: Seconds before retrying a key reload that failed because the database was unreachable.
KEY_RELOAD_RETRY_SECONDS = 5.0
#: The change-notice channel of the signing keys (see :mod:`logto_m2m_django.changes`).
CHANNEL = "keys"


def announce_key_change() -> None:
    """Record, in the current transaction, that the signing keys changed (every process reloads them)."""
    changes.announce(CHANNEL)


class KeyStoreError(Exception):
    """A key operation is not allowed (e.g. deleting the last key)."""


def generate_private_key(algorithm: str) -> Any:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    if algorithm == "ES512":
        return ec.generate_private_key(ec.SECP521R1())
    if algorithm in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise KeyStoreError(f"Unsupported algorithm {algorithm!r}; choose one of {', '.join(SUPPORTED_ALGORITHMS)}.")


def _fernet() -> MultiFernet:
    keys = []
    for secret in m2m_settings.SECRET_HASH_KEYS:
        raw = hashlib.sha256(b"logto_m2m_django.signing-key.v1:" + secret.encode()).digest()
        keys.append(Fernet(base64.urlsafe_b64encode(raw)))
    return MultiFernet(keys)


def _encrypt(private_key: Any) -> str:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _fernet().encrypt(pem).decode("ascii")


def _decrypt(token: str) -> Any:
    try:
        pem = _fernet().decrypt(token.encode("ascii"))
    except InvalidToken as exc:
        raise KeyStoreError(
            "A signing key can't be decrypted: SECRET_KEY changed without the old one in SECRET_KEY_FALLBACKS."
        ) from exc
    return serialization.load_pem_private_key(pem, password=None)


def _new_key_row(algorithm: str, status: str) -> SigningKey:
    private_key = generate_private_key(algorithm)
    jwk = public_jwk(private_key.public_key(), algorithm, kid="")
    kid = jwk_thumbprint(jwk)
    jwk["kid"] = kid
    return SigningKey(
        kid=kid, algorithm=algorithm, status=status, public_jwk=jwk, private_key_encrypted=_encrypt(private_key)
    )


@dataclass
class _Snapshot:
    signing: SigningMaterial | None
    verification: dict[str, VerificationKey]
    jwks: list[dict[str, Any]]
    loaded_at: float
    version: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: Why the Current private key can't be used (it does not decrypt); public keys still work.
    signing_error: KeyStoreError | None = None


class KeyStore:
    """The process-wide key cache in front of the ``SigningKey`` table."""

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
        return snap

    def _load(self) -> _Snapshot:
        with self._lock:
            rows = list(SigningKey.objects.all())
            signing = None
            signing_error = None
            verification: dict[str, VerificationKey] = {}
            jwks = []
            for row in rows:
                verification[row.kid] = VerificationKey(
                    row.kid, row.algorithm, key_from_jwk(row.public_jwk, row.algorithm)
                )
                jwks.append(dict(row.public_jwk))
                if row.status == KeyStatus.CURRENT:
                    try:
                        signing = SigningMaterial(row.kid, row.algorithm, _decrypt(row.private_key_encrypted))
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
            self._snapshot = snap
            return snap

    def signing_material(self) -> SigningMaterial:
        """The Current key, creating the first key on first need.

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

    # -- writing -------------------------------------------------------------

    def ensure_current_key(self, algorithm: str | None = None) -> None:
        """Create a Current key if there is none; safe when processes race."""
        algorithm = algorithm or m2m_settings.SIGNING_ALGORITHM
        if SigningKey.objects.filter(status=KeyStatus.CURRENT).exists():
            return
        row = _new_key_row(algorithm, KeyStatus.CURRENT)
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            # Another process created it first; the unique constraint kept one.
            pass
        self.invalidate()

    def rotate(self, algorithm: str | None = None, *, staged: bool = False) -> SigningKey:
        """Rotate the signing key.

        Immediate: the Next key (if one is staged) or a new key becomes
        Current, the Current key becomes Previous, and older Previous keys are
        removed (as Logto keeps one). Staged: a new key becomes Next; it is
        published in the JWKS at once and becomes Current at the next
        immediate rotation (:meth:`promote`).
        """
        algorithm = algorithm or m2m_settings.SIGNING_ALGORITHM
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise KeyStoreError(
                f"Unsupported algorithm {algorithm!r}; choose one of {', '.join(SUPPORTED_ALGORITHMS)}."
            )
        new_row = _new_key_row(algorithm, KeyStatus.NEXT if staged else KeyStatus.CURRENT)
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
        keys = {k.kid: k for k in SigningKey.objects.select_for_update().order_by("pk")}
        by_status: dict[str, list[SigningKey]] = {}
        for k in keys.values():
            by_status.setdefault(k.status, []).append(k)
        if staged:
            if by_status.get(KeyStatus.NEXT):
                raise KeyStoreError("A Next key is already staged; promote it (immediate rotation) first.")
            new_row.save()
            return new_row
        staged_next = by_status.get(KeyStatus.NEXT, [])
        SigningKey.objects.filter(status=KeyStatus.PREVIOUS).delete()
        SigningKey.objects.filter(status=KeyStatus.CURRENT).update(status=KeyStatus.PREVIOUS)
        if staged_next:
            promoted = staged_next[0]
            SigningKey.objects.filter(pk=promoted.pk).update(status=KeyStatus.CURRENT)
            promoted.status = KeyStatus.CURRENT
            return promoted
        new_row.save()
        return new_row

    def delete(self, kid: str) -> None:
        """Delete a Previous or Next key. The Current key (and so the last key) can't be deleted."""
        with transaction.atomic():
            row = SigningKey.objects.select_for_update().filter(kid=kid).first()
            if row is None:
                raise KeyStoreError("No such key.")
            if row.status == KeyStatus.CURRENT:
                raise KeyStoreError("The Current key can't be deleted; rotate first.")
            if SigningKey.objects.count() <= 1:
                raise KeyStoreError("The last key can't be deleted.")
            row.delete()
            announce_key_change()
        transaction.on_commit(self.invalidate)
        self.invalidate()


key_store = KeyStore()


@on_reload
def _reset_key_store() -> None:
    key_store.invalidate()
