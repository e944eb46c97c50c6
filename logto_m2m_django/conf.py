"""The ``LOGTO_M2M`` settings object.

Every setting is read live from ``django.conf.settings.LOGTO_M2M`` through
``m2m_settings``; nothing is read at import time. Caches built from settings
(key sets, the verified-token cache, the oauthlib server) register a reset
hook with :func:`on_reload` and are cleared when Django's ``setting_changed``
signal reports a change to ``LOGTO_M2M`` or ``SECRET_KEY``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

SETTINGS_NAME = "LOGTO_M2M"

#: Asymmetric algorithms this package can sign and verify with.
SUPPORTED_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA")

DEFAULTS: dict[str, Any] = {
    # Issuer URL, the ``iss`` claim of every token (e.g. https://auth.example.com/oidc).
    "ISSUER": None,
    # Algorithm of newly created signing keys.
    "SIGNING_ALGORITHM": "ES384",
    # Algorithms accepted when validating tokens (asymmetric only).
    "ACCEPTED_ALGORITHMS": list(SUPPORTED_ALGORITHMS),
    # Audience required by protected views that declare no ``audience`` attribute.
    "AUDIENCE": None,
    # Clock skew tolerated for exp / nbf / iat, in seconds.
    "LEEWAY": 30,
    # Bearer tokens longer than this are refused before any decoding.
    "MAX_TOKEN_LENGTH": 8192,
    # Number of already-verified tokens remembered per process.
    "VERIFIED_TOKEN_CACHE_SIZE": 10_000,
    # Seconds a process keeps its copy of the signing keys before re-reading them.
    "KEY_CACHE_SECONDS": 300,
    # A key change made in any process reaches every process within this many seconds (signing,
    # validation, JWKS): one THROTTLE_CACHE read, or one indexed DB read without a shared cache, per
    # interval per process (logto_m2m_django.changes). 0 turns it off (changes arrive after KEY_CACHE_SECONDS).
    "KEY_CHANGE_CHECK_SECONDS": 5,
    # The token endpoint keeps the clients and grants it read in each process (0 SQL reads per token
    # request in steady state), emptied by every change in every process: from the next request with a
    # shared THROTTLE_CACHE, within KEY_CHANGE_CHECK_SECONDS without one (logto_m2m_django.grant_cache).
    # An entry is kept at most this many seconds (the bound for changes made outside the ORM). 0 = off.
    "GRANT_CACHE_SECONDS": 300,
    # Default grace period of a key rotation, in seconds (`m2m rotate-keys`, the admin, the Management API):
    # the new key is published at once as Next and signs from then on. 0 = immediate rotation.
    "KEY_ROTATION_GRACE_PERIOD": 0,
    # Minimum seconds between two key-set reloads triggered by an unknown ``kid``.
    "UNKNOWN_KID_REFRESH_COOLDOWN": 10,
    # Where verification keys come from: "local" (this project's key store), "remote" (the issuer's
    # JWKS over HTTP) or an import path; None = local when logto_m2m_django is installed, else remote.
    "KEY_SOURCE": None,
    # Remote mode: the JWKS URL; None = discovered from {ISSUER}/.well-known/openid-configuration.
    "JWKS_URL": None,
    # Remote mode: seconds a process keeps the fetched JWKS before fetching it again.
    "JWKS_CACHE_SECONDS": 300,
    # Remote mode: timeout in seconds for connecting to and reading from the JWKS / discovery URL.
    "JWKS_TIMEOUT": 5,
    # Remote mode: while the JWKS can't be fetched, the last keys are trusted for at most this many
    # seconds after they were due for a refresh; then tokens are refused (401) until a fetch succeeds.
    "JWKS_MAX_STALE_SECONDS": 3600,
    # Deprecated alias of CUSTOM_CLAIMS (system check logto_m2m.W040): callable(claims, context) -> dict.
    "EXTRA_CLAIMS": None,
    # Import path of the custom-claims hook, Logto's custom JWT for client credentials:
    # callable(*, token, context, environment_variables, api) -> dict of claims to add.
    "CUSTOM_CLAIMS": None,
    # The mapping the hook receives as ``environment_variables`` (Logto's environment variables).
    "CUSTOM_CLAIMS_ENVIRONMENT": {},
    # True: a failing hook refuses the token request (400 invalid_request) instead of issuing
    # the token without custom claims.
    "CUSTOM_CLAIMS_BLOCK_ON_ERROR": False,
    # Largest hook result accepted, in bytes of compact JSON.
    "CUSTOM_CLAIMS_MAX_BYTES": 2048,
    # Seconds a hook may take; a slower run counts as a failure (its claims are dropped).
    "CUSTOM_CLAIMS_TIMEOUT": 1.0,
    # Largest application custom data accepted (admin and Management API), in bytes of compact JSON.
    "CUSTOM_DATA_MAX_BYTES": 8192,
    # Realm in WWW-Authenticate challenges.
    "REALM": "api",
    # Largest token request body accepted, in bytes.
    "MAX_TOKEN_REQUEST_BYTES": 16_384,
    # Minimum seconds between two writes of a secret's "last used" time.
    "LAST_USED_WRITE_INTERVAL": 60,
    # Key used for secret hashing and private-key encryption; SECRET_KEY when None.
    "SECRET_HASH_KEY": None,
    # Indicator of the built-in Management API resource (Logto OSS's default).
    "MANAGEMENT_API_INDICATOR": "https://default.logto.app/api",
    # RFC 6749 §5.2: answer 400 invalid_scope when a requested scope does not exist on the resource
    # at all (a typo); off: such scopes are dropped silently like scopes the app does not hold (Logto).
    "REJECT_UNKNOWN_SCOPES": False,
    # Keep django-oauth-toolkit's own admin pages (Applications, tokens, grants); read at startup.
    "OAUTH_TOOLKIT_ADMIN": False,
    # Record one TokenActivity row per token request (shown in the admin).
    "TOKEN_ACTIVITY_LOG": True,
    # Days a TokenActivity row is kept; `manage.py m2m prune-activity` deletes older ones. None: forever.
    "TOKEN_ACTIVITY_RETENTION_DAYS": 90,
    # Token endpoint rate limits ("N/second|minute|hour|day"), merged per key over these defaults;
    # a key set to None turns that limit off, THROTTLE_RATES = None turns throttling off.
    # client: requests presenting a client's credentials; ip: every request from an address;
    # failed: failed authentications per (address, client ID); failed_ip: per address, any ID.
    "THROTTLE_RATES": {"client": "600/minute", "ip": "1200/minute", "failed": "20/minute", "failed_ip": "100/minute"},
    # Cache alias for the throttle counters and the change notices (shared Redis in production).
    "THROTTLE_CACHE": "default",
    # Reverse proxies in front of Django: 0 = the client IP is REMOTE_ADDR; n = the n-th
    # X-Forwarded-For entry from the right.
    "THROTTLE_NUM_PROXIES": 0,
    # RFC 6750 §2.2 / §2.3: accept access tokens in a form body / the query string (off: 401).
    "ACCEPT_TOKEN_IN_BODY": False,
    "ACCEPT_TOKEN_IN_QUERY": False,
}

_reload_hooks: list[Callable[[], None]] = []


def on_reload(hook: Callable[[], None]) -> Callable[[], None]:
    """Register ``hook`` to run whenever the settings change (usable as a decorator)."""
    _reload_hooks.append(hook)
    return hook


class M2MSettings:
    """Typed, live view of ``settings.LOGTO_M2M`` merged over :data:`DEFAULTS`."""

    def __init__(self) -> None:
        self._merged: dict[str, Any] | None = None
        self._imports: dict[str, Any] = {}

    def _values(self) -> dict[str, Any]:
        merged = self._merged
        if merged is None:
            user = getattr(settings, SETTINGS_NAME, None) or {}
            merged = {**DEFAULTS, **user}
            self._merged = merged
        return merged

    def user_keys(self) -> set[str]:
        return set((getattr(settings, SETTINGS_NAME, None) or {}).keys())

    def reload(self) -> None:
        self._merged = None
        self._imports.clear()
        for hook in _reload_hooks:
            hook()

    def get(self, name: str) -> Any:
        return self._values()[name]

    @property
    def ISSUER(self) -> str | None:  # noqa: N802 - settings keep Django's upper case
        value = self._values()["ISSUER"]
        return value.rstrip("/") if isinstance(value, str) and value else None

    @property
    def SIGNING_ALGORITHM(self) -> str:  # noqa: N802
        return str(self._values()["SIGNING_ALGORITHM"])

    @property
    def ACCEPTED_ALGORITHMS(self) -> tuple[str, ...]:  # noqa: N802
        return tuple(self._values()["ACCEPTED_ALGORITHMS"])

    @property
    def AUDIENCE(self) -> str | None:  # noqa: N802
        value = self._values()["AUDIENCE"]
        return str(value) if value else None

    @property
    def LEEWAY(self) -> int:  # noqa: N802
        return int(self._values()["LEEWAY"])

    @property
    def MAX_TOKEN_LENGTH(self) -> int:  # noqa: N802
        return int(self._values()["MAX_TOKEN_LENGTH"])

    @property
    def VERIFIED_TOKEN_CACHE_SIZE(self) -> int:  # noqa: N802
        return int(self._values()["VERIFIED_TOKEN_CACHE_SIZE"])

    @property
    def KEY_CACHE_SECONDS(self) -> float:  # noqa: N802
        return float(self._values()["KEY_CACHE_SECONDS"])

    @property
    def KEY_CHANGE_CHECK_SECONDS(self) -> float:  # noqa: N802
        return float(self._values()["KEY_CHANGE_CHECK_SECONDS"])

    @property
    def GRANT_CACHE_SECONDS(self) -> float:  # noqa: N802
        return float(self._values()["GRANT_CACHE_SECONDS"])  # check logto_m2m.E031; <= 0 is off

    @property
    def KEY_ROTATION_GRACE_PERIOD(self) -> float:  # noqa: N802
        return float(self._values()["KEY_ROTATION_GRACE_PERIOD"] or 0)

    @property
    def UNKNOWN_KID_REFRESH_COOLDOWN(self) -> float:  # noqa: N802
        return float(self._values()["UNKNOWN_KID_REFRESH_COOLDOWN"])

    @property
    def KEY_SOURCE(self) -> str | None:  # noqa: N802
        value = self._values()["KEY_SOURCE"]
        return str(value) if value else None

    @property
    def JWKS_URL(self) -> str | None:  # noqa: N802
        value = self._values()["JWKS_URL"]
        return str(value) if value else None

    @property
    def JWKS_CACHE_SECONDS(self) -> float:  # noqa: N802
        return float(self._values()["JWKS_CACHE_SECONDS"])

    @property
    def JWKS_TIMEOUT(self) -> float:  # noqa: N802
        return float(self._values()["JWKS_TIMEOUT"])

    @property
    def JWKS_MAX_STALE_SECONDS(self) -> float:  # noqa: N802
        return max(0.0, float(self._values()["JWKS_MAX_STALE_SECONDS"]))

    def _callable(self, name: str) -> Any:
        value = self._values()[name]
        if isinstance(value, str):
            # Imported once per settings version: this is read on every token request.
            imported = self._imports.get(value)
            if imported is None:
                imported = self._imports[value] = import_string(value)
            return imported
        return value

    @property
    def EXTRA_CLAIMS(self) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None:  # noqa: N802
        return self._callable("EXTRA_CLAIMS")  # type: ignore[no-any-return]

    @property
    def CUSTOM_CLAIMS(self) -> Callable[..., Any] | None:  # noqa: N802
        return self._callable("CUSTOM_CLAIMS")  # type: ignore[no-any-return]

    @property
    def CUSTOM_CLAIMS_ENVIRONMENT(self) -> dict[str, Any]:  # noqa: N802
        return dict(self._values()["CUSTOM_CLAIMS_ENVIRONMENT"] or {})

    @property
    def CUSTOM_CLAIMS_BLOCK_ON_ERROR(self) -> bool:  # noqa: N802
        return bool(self._values()["CUSTOM_CLAIMS_BLOCK_ON_ERROR"])

    @property
    def CUSTOM_CLAIMS_MAX_BYTES(self) -> int:  # noqa: N802
        return int(self._values()["CUSTOM_CLAIMS_MAX_BYTES"])

    @property
    def CUSTOM_CLAIMS_TIMEOUT(self) -> float:  # noqa: N802
        return float(self._values()["CUSTOM_CLAIMS_TIMEOUT"])

    @property
    def CUSTOM_DATA_MAX_BYTES(self) -> int:  # noqa: N802
        return int(self._values()["CUSTOM_DATA_MAX_BYTES"])

    @property
    def REALM(self) -> str:  # noqa: N802
        return str(self._values()["REALM"])

    @property
    def MAX_TOKEN_REQUEST_BYTES(self) -> int:  # noqa: N802
        return int(self._values()["MAX_TOKEN_REQUEST_BYTES"])

    @property
    def LAST_USED_WRITE_INTERVAL(self) -> float:  # noqa: N802
        return float(self._values()["LAST_USED_WRITE_INTERVAL"])

    @property
    def MANAGEMENT_API_INDICATOR(self) -> str:  # noqa: N802
        return str(self._values()["MANAGEMENT_API_INDICATOR"])

    @property
    def OAUTH_TOOLKIT_ADMIN(self) -> bool:  # noqa: N802
        return bool(self._values()["OAUTH_TOOLKIT_ADMIN"])

    @property
    def REJECT_UNKNOWN_SCOPES(self) -> bool:  # noqa: N802
        return bool(self._values()["REJECT_UNKNOWN_SCOPES"])

    @property
    def TOKEN_ACTIVITY_LOG(self) -> bool:  # noqa: N802
        return bool(self._values()["TOKEN_ACTIVITY_LOG"])

    @property
    def TOKEN_ACTIVITY_RETENTION_DAYS(self) -> float | None:  # noqa: N802
        value = self._values()["TOKEN_ACTIVITY_RETENTION_DAYS"]
        return None if value is None else float(value)

    @property
    def THROTTLE_RATES(self) -> dict[str, Any]:  # noqa: N802
        """The enabled token endpoint limits by kind ("client", "ip", "failed", "failed_ip"); empty when off."""
        value = self._values()["THROTTLE_RATES"]
        if not value:
            return {}
        merged = {**DEFAULTS["THROTTLE_RATES"], **value}
        return {kind: rate for kind, rate in merged.items() if rate is not None}

    @property
    def THROTTLE_CACHE(self) -> str:  # noqa: N802
        return str(self._values()["THROTTLE_CACHE"])

    @property
    def THROTTLE_NUM_PROXIES(self) -> int:  # noqa: N802
        return int(self._values()["THROTTLE_NUM_PROXIES"] or 0)

    @property
    def ACCEPT_TOKEN_IN_BODY(self) -> bool:  # noqa: N802
        return bool(self._values()["ACCEPT_TOKEN_IN_BODY"])

    @property
    def ACCEPT_TOKEN_IN_QUERY(self) -> bool:  # noqa: N802
        return bool(self._values()["ACCEPT_TOKEN_IN_QUERY"])

    @property
    def SECRET_HASH_KEYS(self) -> list[str]:  # noqa: N802
        """The current key first, then ``SECRET_KEY_FALLBACKS`` (for verifying only)."""
        explicit = self._values()["SECRET_HASH_KEY"]
        if explicit:
            return [str(explicit)]
        return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


m2m_settings = M2MSettings()


def _setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTINGS_NAME, "SECRET_KEY", "SECRET_KEY_FALLBACKS", "DEBUG"):
        m2m_settings.reload()


setting_changed.connect(_setting_changed, dispatch_uid="logto_m2m_django.conf")
