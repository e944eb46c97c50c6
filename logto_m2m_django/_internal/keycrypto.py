"""Signing key material: generation, and encryption at rest under a key derived from ``SECRET_KEY``.

Private keys are stored encrypted with Fernet (AES-128-CBC + HMAC-SHA-256) under a key derived from
``SECRET_KEY`` (or ``LOGTO_M2M["SECRET_HASH_KEY"]``); ``SECRET_KEY_FALLBACKS`` still decrypt, so
``SECRET_KEY`` can be rotated the Django way.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ..conf import SUPPORTED_ALGORITHMS, m2m_settings


class KeyStoreError(Exception):
    """A key operation is not allowed (e.g. deleting the last key).

    ``code`` is the Logto error code the Management API answers with; ``status`` its HTTP status.
    """

    code = "oidc.key_operation_refused"
    status = 422


class UnsupportedAlgorithmError(KeyStoreError):
    code = "guard.invalid_input"
    status = 400


def unsupported(algorithm: str) -> UnsupportedAlgorithmError:
    return UnsupportedAlgorithmError(
        f"Unsupported algorithm {algorithm!r}; choose one of {', '.join(SUPPORTED_ALGORITHMS)}."
    )


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
    raise unsupported(algorithm)


def _fernet() -> MultiFernet:
    keys = []
    for secret in m2m_settings.SECRET_HASH_KEYS:
        raw = hashlib.sha256(b"logto_m2m_django.signing-key.v1:" + secret.encode()).digest()
        keys.append(Fernet(base64.urlsafe_b64encode(raw)))
    return MultiFernet(keys)


def encrypt(private_key: Any) -> str:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _fernet().encrypt(pem).decode("ascii")


def decrypt(token: str) -> Any:
    try:
        pem = _fernet().decrypt(token.encode("ascii"))
    except InvalidToken as exc:
        raise KeyStoreError(
            "A signing key can't be decrypted: SECRET_KEY changed without the old one in SECRET_KEY_FALLBACKS."
        ) from exc
    return serialization.load_pem_private_key(pem, password=None)


class KeyNotFoundError(KeyStoreError):
    code = "oidc.key_not_found"
    status = 404


class KeyInUseError(KeyStoreError):
    """The Current key signs: it can't be deleted."""

    code = "oidc.current_key_can_not_be_deleted"


class LastKeyError(KeyStoreError):
    code = "oidc.key_required"


class NextKeyStagedError(KeyStoreError):
    code = "oidc.next_key_already_staged"
