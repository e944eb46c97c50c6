"""System checks for resource servers (ids ``logto_m2m.E1xx`` / ``W1xx``).

They run in the issuing project (registered by ``logto_m2m_django.checks``) and in
a resource server that installs only ``"logto_m2m_django.drf"``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from ..conf import m2m_settings
from . import view_checks as _view_checks  # noqa: F401 - registers logto_m2m.E054 / E055
from .validation import key_source_setting

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_MAX_SENSIBLE_TIMEOUT = 30.0
_MIN_SENSIBLE_CACHE = 60.0


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def _plain_http_off_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") not in _LOOPBACK


@register(Tags.security)
def check_key_source(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    choice = key_source_setting()
    if choice == "local":
        if not apps.is_installed("logto_m2m_django"):
            return [
                Error(
                    'LOGTO_M2M["KEY_SOURCE"] is "local" but logto_m2m_django is not installed.',
                    hint='The local key store reads this app\'s tables. A resource server elsewhere uses "remote".',
                    id="logto_m2m.E105",
                )
            ]
        return []
    if choice == "remote":
        return _check_remote()
    try:
        import_string(choice)
    except ImportError as exc:
        return [
            Error(
                f'LOGTO_M2M["KEY_SOURCE"] = {choice!r} is neither "local", "remote" nor an importable path: {exc}',
                id="logto_m2m.E104",
            )
        ]
    return []


def _check_remote() -> list[Any]:
    problems: list[Any] = []
    issuer = m2m_settings.ISSUER
    jwks_url = m2m_settings.JWKS_URL
    if not issuer:
        problems.append(
            Error(
                'Remote mode needs LOGTO_M2M["ISSUER"]: the "iss" that tokens must carry and, without '
                '"JWKS_URL", where the keys are discovered.',
                hint='e.g. "https://auth.example.com/oidc" or "https://<tenant>.logto.app/oidc".',
                id="logto_m2m.E101",
            )
        )
    for name, url in (("ISSUER", issuer), ("JWKS_URL", jwks_url)):
        if url and not _is_http_url(url):
            problems.append(Error(f'LOGTO_M2M["{name}"] = {url!r} is not an http(s) URL.', id="logto_m2m.E102"))
    fetched_from = jwks_url or issuer
    if fetched_from and _is_http_url(fetched_from) and not settings.DEBUG and _plain_http_off_loopback(fetched_from):
        problems.append(
            Error(
                f"The signing keys would be fetched over plain http ({fetched_from}) while DEBUG is off.",
                hint="Anyone on the path could substitute keys and forge tokens. Use an https JWKS URL / issuer.",
                id="logto_m2m.E103",
            )
        )
    timeout = m2m_settings.JWKS_TIMEOUT
    if not 0 < timeout <= _MAX_SENSIBLE_TIMEOUT:
        problems.append(
            Warning(
                f'LOGTO_M2M["JWKS_TIMEOUT"] = {timeout:g}: requests that wait for a key fetch would hang '
                "that long (or fail at once).",
                hint=f"Use a few seconds (at most {_MAX_SENSIBLE_TIMEOUT:g}).",
                id="logto_m2m.W101",
            )
        )
    if m2m_settings.JWKS_CACHE_SECONDS < _MIN_SENSIBLE_CACHE:
        problems.append(
            Warning(
                f'LOGTO_M2M["JWKS_CACHE_SECONDS"] = {m2m_settings.JWKS_CACHE_SECONDS:g}: requests would keep '
                "fetching the JWKS instead of validating from memory.",
                hint="Keep the JWKS for minutes (default 300 s); a new key is fetched when a token names it.",
                id="logto_m2m.W102",
            )
        )
    return problems
