"""Per-process token validation: settings snapshot, key source and the verified-token cache."""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

from django.utils.module_loading import import_string

from .. import tokens
from ..conf import m2m_settings, on_reload
from .principal import M2MPrincipal


class KeySource(Protocol):
    """Where verification keys come from: the local key store, or a remote JWKS."""

    @property
    def version(self) -> int: ...

    def find(self, kid: str) -> tokens.VerificationKey | None: ...


class TokenValidator:
    """Validates access tokens for one process, remembering the ones it has verified.

    The cache maps a token string to its principal; an entry is used only
    until the token's ``exp`` (without leeway), for at most the key cache
    period, and only while the key set is the one it was verified against. It
    holds at most ``VERIFIED_TOKEN_CACHE_SIZE`` entries (oldest dropped first).
    """

    def __init__(self, key_source: KeySource) -> None:
        issuer = m2m_settings.ISSUER
        if not issuer:
            raise RuntimeError("LOGTO_M2M['ISSUER'] is not set (system check logto_m2m.E001).")
        self.key_source = key_source
        self.issuer = issuer
        self.algorithms = m2m_settings.ACCEPTED_ALGORITHMS
        self.leeway = m2m_settings.LEEWAY
        self.max_length = m2m_settings.MAX_TOKEN_LENGTH
        self.cache_size = m2m_settings.VERIFIED_TOKEN_CACHE_SIZE
        self.recheck_after = m2m_settings.KEY_CACHE_SECONDS
        self.default_audience = m2m_settings.AUDIENCE
        self._cache: dict[str, tuple[M2MPrincipal, float, int]] = {}

    def validate(self, token: str, audience: str) -> M2MPrincipal:
        entry = self._cache.get(token)
        if entry is not None:
            principal, valid_until, version = entry
            if version == self.key_source.version and time.time() < valid_until:
                if audience in principal.audience:
                    return principal
                raise tokens.TokenError("The token is not meant for this API (aud).")
            self._cache.pop(token, None)
        # The structure and the header first: a malformed token is refused before anything else.
        parsed = tokens.parse(token, self.max_length)
        # The key-set version is read BEFORE the key lookup: a key deleted while this token is being
        # verified changes the version, so the entry below is never used (it is checked again).
        version = self.key_source.version
        claims = tokens.verify_parsed(
            parsed,
            self.key_source.find,
            issuer=self.issuer,
            audience=audience,
            algorithms=self.algorithms,
            leeway=self.leeway,
        )
        principal = M2MPrincipal(claims)
        self._remember(token, principal, _timestamp(claims["exp"]), version)
        return principal

    def _remember(self, token: str, principal: M2MPrincipal, exp: float, version: int) -> None:
        now = time.time()
        if exp <= now or self.cache_size <= 0:
            return
        cache = self._cache
        while len(cache) >= self.cache_size:
            try:
                cache.pop(next(iter(cache)))
            except (StopIteration, KeyError, RuntimeError):
                break
        cache[token] = (principal, min(exp, now + self.recheck_after), version)

    def clear(self) -> None:
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)


def _timestamp(value: Any) -> float:
    """A NumericDate PyJWT accepted as a float; an integer too large for one means "never" (RFC 7519 §2)."""
    try:
        return float(value)
    except (OverflowError, TypeError, ValueError):
        return math.inf


_validator: TokenValidator | None = None


def key_source_setting() -> str:
    """``LOGTO_M2M["KEY_SOURCE"]`` resolved: "local", "remote" or an import path.

    Unset, it is "local" where this app (and so its key table) is installed, else "remote".
    """
    from django.apps import apps

    choice = m2m_settings.KEY_SOURCE
    if choice is None:
        return "local" if apps.is_installed("logto_m2m_django") else "remote"
    return choice


def default_key_source() -> KeySource:
    path = key_source_setting()
    if path == "remote":
        from .remote import RemoteKeySource  # the issuer's JWKS over HTTP

        return RemoteKeySource()
    if path != "local":
        source: Any = import_string(path)
        return source() if isinstance(source, type) else source  # type: ignore[no-any-return]
    from ..keys import key_store  # the issuing project's own keys

    return key_store


def get_validator() -> TokenValidator:
    global _validator
    validator = _validator
    if validator is None:
        validator = _validator = TokenValidator(default_key_source())
    return validator


@on_reload
def _reset() -> None:
    global _validator
    _validator = None
