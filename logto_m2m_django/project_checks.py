"""System checks for how a project wires this app in (ids ``logto_m2m.E050``-``E059`` / ``W050``-``W059``).

Mistakes that would otherwise surface late, as a 500 at request time or as a setting
silently ignored: a typo in a ``LOGTO_M2M`` key, an app missing from ``INSTALLED_APPS``,
an unknown ``CLIENT_SECRET_HASHER``, a per-process throttle cache in production.
(Views without audience or scopes: :mod:`logto_m2m_django.drf.view_checks`, which a
resource server runs too.)
"""

from __future__ import annotations

import difflib
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, SETTINGS_NAME, m2m_settings

#: Apps this one needs, with what goes wrong without them.
REQUIRED_APPS = {
    "oauth2_provider": ("logto_m2m.E051", "django-oauth-toolkit holds the client registry and runs the grant"),
    "rest_framework": ("logto_m2m.E052", "the token endpoint, the Management API and the DRF classes are DRF views"),
}
#: Cache backends whose data lives in one process (or nowhere).
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def missing_app_message(app: str) -> str:
    check_id, why = REQUIRED_APPS[app]
    return f'{check_id}: "{app}" is not in INSTALLED_APPS ({why}). Add it before "logto_m2m_django".'


@register()
def check_unknown_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """E050: a ``LOGTO_M2M`` key this package does not know is a typo whose value is ignored."""
    user = getattr(settings, SETTINGS_NAME, None)
    if user is None:
        return []
    if not isinstance(user, dict):
        return [Error(f"{SETTINGS_NAME} must be a dict, not {type(user).__name__}.", id="logto_m2m.E050")]
    problems: list[Any] = []
    for key in sorted(k for k in user if k not in DEFAULTS):
        close = difflib.get_close_matches(str(key).upper(), DEFAULTS, n=1, cutoff=0.6)
        hint = f'Did you mean "{close[0]}"?' if close else "See the Settings reference (docs/reference/settings.md)."
        problems.append(
            Error(f'{SETTINGS_NAME}["{key}"] is not a setting of logto_m2m_django.', hint=hint, id="logto_m2m.E050")
        )
    return problems


@register()
def check_installed_apps(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """E051 / E052: the apps this one is built on are installed."""
    problems: list[Any] = []
    for app, (check_id, why) in REQUIRED_APPS.items():
        if not apps.is_installed(app):
            problems.append(
                Error(
                    f'"{app}" is not in INSTALLED_APPS: {why}.',
                    hint=f'Add "{app}" to INSTALLED_APPS (before "logto_m2m_django").',
                    id=check_id,
                )
            )
    return problems


@register(Tags.security)
def check_client_secret_hasher(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """E053: ``OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]`` names no hasher of ``PASSWORD_HASHERS``.

    DOT hashes every new client secret with it; an unknown name is a 500 when an app is created.
    """
    value = (getattr(settings, "OAUTH2_PROVIDER", None) or {}).get("CLIENT_SECRET_HASHER", "default")
    if value == "default":
        return []
    known: list[str] = []
    for path in getattr(settings, "PASSWORD_HASHERS", []):
        try:
            known.append(str(import_string(path).algorithm))
        except (ImportError, AttributeError):
            continue  # Django's own check (or the first use) reports an unimportable hasher
    if value in known:
        return []
    close = difflib.get_close_matches(str(value), known, n=1)
    return [
        Error(
            f'OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"] = {value!r} is not the algorithm of any hasher in '
            "PASSWORD_HASHERS: creating an application would fail.",
            hint=(f'Did you mean "{close[0]}"? ' if close else "")
            + 'Use "logto_m2m_hmac_sha256" (with logto_m2m_django.secrets.HMACSecretHasher in PASSWORD_HASHERS).',
            id="logto_m2m.E053",
        )
    ]


@register()
def check_throttle_cache_is_shared(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """W050: with DEBUG off, several processes are expected; a per-process cache splits the limits."""
    if settings.DEBUG or not m2m_settings.THROTTLE_RATES:
        return []
    alias = m2m_settings.THROTTLE_CACHE
    backend = str((getattr(settings, "CACHES", {}).get(alias) or {}).get("BACKEND", ""))
    if backend not in PER_PROCESS_CACHES:
        return []
    return [
        Warning(
            f'The throttle cache "{alias}" uses {backend.rsplit(".", 1)[-1]}, which each process keeps to itself '
            "(DummyCache: nowhere): with several workers or hosts every limit is multiplied by their number.",
            hint='Use a shared cache (django.core.cache.backends.redis.RedisCache) for LOGTO_M2M["THROTTLE_CACHE"], '
            "or set THROTTLE_RATES = None if another layer limits the token endpoint. Silence with "
            'SILENCED_SYSTEM_CHECKS = ["logto_m2m.W050"] when only one process runs.',
            id="logto_m2m.W050",
        )
    ]
