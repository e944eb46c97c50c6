"""System checks for configuration mistakes (ids ``logto_m2m.E0xx`` / ``W0xx``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse

from . import project_checks as _project_checks  # noqa: F401 - registers logto_m2m.E05x / W05x
from .claims import checks as _claims_checks  # noqa: F401 - registers logto_m2m.E03x / W03x
from .conf import SUPPORTED_ALGORITHMS, m2m_settings
from .drf import checks as _resource_server_checks  # noqa: F401 - registers logto_m2m.E1xx / W1xx
from .secrets import ALGORITHM as HASHER_ALGORITHM

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
HASHER_PATH = "logto_m2m_django.secrets.HMACSecretHasher"


@register(Tags.security)
def check_issuer(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    issuer = m2m_settings.ISSUER
    if not issuer:
        return [
            Error(
                'LOGTO_M2M["ISSUER"] is not set.',
                hint='Set it to the public URL of the token service plus /oidc, e.g. "https://auth.example.com/oidc".',
                id="logto_m2m.E001",
            )
        ]
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        return [Error(f"The issuer {issuer!r} is not an http(s) URL without query or fragment.", id="logto_m2m.E002")]
    if parts.scheme != "https" and not settings.DEBUG and (parts.hostname or "") not in _LOOPBACK:
        return [
            Error(
                f"The issuer {issuer!r} is not https while DEBUG is off.",
                hint="Tokens and secrets must only travel over TLS (RFC 6749 §3.2). Use an https issuer.",
                id="logto_m2m.E003",
            )
        ]
    return []


@register(Tags.security)
def check_algorithms(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    errors: list[Any] = []
    if m2m_settings.SIGNING_ALGORITHM not in SUPPORTED_ALGORITHMS:
        errors.append(
            Error(
                f'LOGTO_M2M["SIGNING_ALGORITHM"] = {m2m_settings.SIGNING_ALGORITHM!r} is not supported.',
                hint=f"Choose one of {', '.join(SUPPORTED_ALGORITHMS)}.",
                id="logto_m2m.E004",
            )
        )
    bad = [a for a in m2m_settings.ACCEPTED_ALGORITHMS if a not in SUPPORTED_ALGORITHMS]
    if bad:
        errors.append(
            Error(
                f'LOGTO_M2M["ACCEPTED_ALGORITHMS"] contains unsupported or symmetric algorithms: {", ".join(bad)}.',
                hint=f"Only asymmetric algorithms are accepted: {', '.join(SUPPORTED_ALGORITHMS)}.",
                id="logto_m2m.E005",
            )
        )
    return errors


@register()
def check_grant_cache(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """``GRANT_CACHE_SECONDS``: how long a process may keep a client or grant it read (0 = off)."""
    try:
        seconds = float(m2m_settings.get("GRANT_CACHE_SECONDS"))
    except (TypeError, ValueError) as exc:
        return [Error(f'LOGTO_M2M["GRANT_CACHE_SECONDS"] is not a number: {exc}', id="logto_m2m.E031")]
    if seconds < 0:
        return [
            Error(
                'LOGTO_M2M["GRANT_CACHE_SECONDS"] can\'t be negative.',
                hint="300 (the default) keeps entries at most 5 minutes; 0 turns the grant cache off.",
                id="logto_m2m.E031",
            )
        ]
    return []


@register()
def check_key_change_interval(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """``KEY_CHANGE_CHECK_SECONDS`` bounds how long a deleted key keeps working in other processes."""
    try:
        interval = m2m_settings.KEY_CHANGE_CHECK_SECONDS
        cache_seconds = m2m_settings.KEY_CACHE_SECONDS
    except (TypeError, ValueError) as exc:
        return [Error(f"KEY_CHANGE_CHECK_SECONDS or KEY_CACHE_SECONDS is not a number: {exc}", id="logto_m2m.E030")]
    if interval < 0 or cache_seconds < 0:
        return [
            Error(
                "KEY_CHANGE_CHECK_SECONDS and KEY_CACHE_SECONDS can't be negative.",
                hint="KEY_CHANGE_CHECK_SECONDS = 5 (the default) reaches every process within 5 s.",
                id="logto_m2m.E030",
            )
        ]
    if interval == 0:
        return [
            Warning(
                'LOGTO_M2M["KEY_CHANGE_CHECK_SECONDS"] = 0 turns change notices off: a rotated or deleted '
                f"key reaches the other processes only after KEY_CACHE_SECONDS ({cache_seconds:g} s), and the "
                "token endpoint's grant cache is off (2 reads per token request).",
                hint="Leave it at 5 (the default): one indexed read or cache read per 5 s per process.",
                id="logto_m2m.W030",
            )
        ]
    if interval > cache_seconds:
        return [
            Warning(
                f'LOGTO_M2M["KEY_CHANGE_CHECK_SECONDS"] = {interval:g} is longer than KEY_CACHE_SECONDS '
                f"({cache_seconds:g}): every process reloads its keys before it would look for a change.",
                hint="Keep it short (5 s, the default); KEY_CACHE_SECONDS is only the backstop.",
                id="logto_m2m.W031",
            )
        ]
    return []


@register(Tags.urls)
def check_urls(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    try:
        token_path = reverse("logto_m2m:token")
    except NoReverseMatch:
        return [
            Error(
                "The logto_m2m_django URLs are not included.",
                hint='Add path("", include("logto_m2m_django.urls")) to your root URLconf.',
                id="logto_m2m.E006",
            )
        ]
    issuer = m2m_settings.ISSUER
    mount = token_path.removesuffix("/token")
    if issuer and not urlsplit(issuer).path.rstrip("/").endswith(mount):
        # The discovery document and every token's iss say {issuer}/token and {issuer}/jwks.
        return [
            Warning(
                f"The issuer {issuer!r} does not end with {mount!r}, where the token endpoint is served "
                f"({token_path}): clients following the discovery document would miss it.",
                hint=f'End the issuer with "{mount}" (e.g. "https://auth.example.com{mount}"), '
                "or include the URLs where the issuer points.",
                id="logto_m2m.W002",
            )
        ]
    return []


@register(Tags.security)
def check_secret_hasher(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    hashers = list(getattr(settings, "PASSWORD_HASHERS", []))
    problems: list[Any] = []
    if HASHER_PATH not in hashers:
        problems.append(
            Error(
                f"{HASHER_PATH} is not in PASSWORD_HASHERS.",
                hint="Append it (after your password hashers) so that client secrets are stored as HMAC hashes.",
                id="logto_m2m.E007",
            )
        )
    elif hashers and hashers[0] == HASHER_PATH:
        problems.append(
            Error(
                f"{HASHER_PATH} is the first entry of PASSWORD_HASHERS: user passwords would be hashed with it.",
                hint="Keep a password hasher (e.g. PBKDF2PasswordHasher) first; append this one.",
                id="logto_m2m.E008",
            )
        )
    dot = getattr(settings, "OAUTH2_PROVIDER", {}) or {}
    if dot.get("CLIENT_SECRET_HASHER") != HASHER_ALGORITHM:
        problems.append(
            Warning(
                f'OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"] is not "{HASHER_ALGORITHM}": new client secrets will be '
                "hashed with a slow password hasher (about 200 ms of CPU per token request).",
                hint=f'Set OAUTH2_PROVIDER = {{"CLIENT_SECRET_HASHER": "{HASHER_ALGORITHM}"}}.',
                id="logto_m2m.W001",
            )
        )
    return problems


@register()
def check_throttling(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    from .oauth.throttling import parse_rate  # the token endpoint's own parser

    try:
        rates = m2m_settings.THROTTLE_RATES
    except (TypeError, ValueError):
        rates = {"THROTTLE_RATES": m2m_settings.get("THROTTLE_RATES")}
    problems: list[Any] = []
    for kind, text in rates.items():
        try:
            parse_rate(text)
        except (TypeError, ValueError) as exc:
            problems.append(
                Error(
                    f'LOGTO_M2M["THROTTLE_RATES"][{kind!r}] = {text!r} is not a rate: {exc}',
                    hint='Use "N/second", "N/minute", "N/hour", "N/day" or "N/30s"; None turns a limit off.',
                    id="logto_m2m.E020",
                )
            )
    if rates and m2m_settings.THROTTLE_CACHE not in getattr(settings, "CACHES", {"default": {}}):
        problems.append(
            Error(
                f'LOGTO_M2M["THROTTLE_CACHE"] = {m2m_settings.THROTTLE_CACHE!r} is not an alias in CACHES.',
                id="logto_m2m.E021",
            )
        )
    problems.extend(_proxy_problems(rates))
    return problems


#: Django settings that only make sense behind a reverse proxy.
_PROXY_SETTINGS = ("SECURE_PROXY_SSL_HEADER", "USE_X_FORWARDED_HOST", "USE_X_FORWARDED_PORT")


def _proxy_problems(rates: dict[str, Any]) -> list[Any]:
    """W020: the project says it runs behind a proxy, yet the address limits count the proxy's address."""
    if not rates or m2m_settings.THROTTLE_NUM_PROXIES > 0:
        return []
    shown = [name for name in _PROXY_SETTINGS if getattr(settings, name, None)]
    if not shown:
        return []
    return [
        Warning(
            f'LOGTO_M2M["THROTTLE_NUM_PROXIES"] is 0 while {", ".join(shown)} says requests come through a '
            "reverse proxy: the token endpoint's address limits would count the proxy's address, so every "
            "client would share one address's limits.",
            hint="Set THROTTLE_NUM_PROXIES to the number of proxies that append to X-Forwarded-For.",
            id="logto_m2m.W020",
        )
    ]


@register()
def check_activity_retention(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    value = m2m_settings.get("TOKEN_ACTIVITY_RETENTION_DAYS")
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
        return []
    return [
        Error(
            f'LOGTO_M2M["TOKEN_ACTIVITY_RETENTION_DAYS"] = {value!r} is not a positive number of days.',
            hint="Use e.g. 90, or None to keep the activity log forever.",
            id="logto_m2m.E022",
        )
    ]


@register(Tags.database)
def check_slow_secret_hashes(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Any]:
    """Applications whose default or named secret still has a slow password hash (run by ``check --database``).

    Each costs about 200 ms of CPU per token request, and its wrong-secret refusals are slower than an
    unknown ID's. The hash is upgraded to HMAC the next time the secret authenticates.
    """
    from django.db import DatabaseError, router
    from oauth2_provider.models import get_application_model

    from .models import ApplicationSecret

    fast = HASHER_ALGORITHM + "$"
    model = get_application_model()
    slow: set[Any] = set()
    # Like Django's own database checks: only with ``check --database <alias>`` (databases is None otherwise).
    for alias in databases or ():
        if not router.allow_migrate_model(alias, ApplicationSecret):
            continue
        apps = model.objects.using(alias).exclude(client_secret="").exclude(client_secret__startswith=fast)
        named = ApplicationSecret.objects.using(alias).exclude(secret_hash__startswith=fast)
        try:
            slow.update(apps.values_list("pk", flat=True))
            slow.update(named.values_list("application_id", flat=True))
        except DatabaseError:
            continue  # not migrated yet: `migrate` runs the database checks before it creates the tables
    count = len(slow)
    if not count:
        return []
    return [
        Warning(
            f"{count} application(s) still have a client secret stored with a slow password hasher "
            "(e.g. DOT's PBKDF2 default).",
            hint="Each such token request costs about 200 ms of CPU, and a wrong secret answers slower than an "
            "unknown client ID. The hash is replaced by an HMAC hash the next time the secret is used; or reset "
            "the secret (or delete the legacy secret) to replace it now.",
            id="logto_m2m.W033",
        )
    ]


@register()
def check_rotation_grace_period(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The default grace period must be usable, and long enough for remote validators to learn the key."""
    from .key_rotation import MAX_GRACE_PERIOD, short_grace_period

    raw = m2m_settings.get("KEY_ROTATION_GRACE_PERIOD")
    try:
        seconds = float(raw or 0)
    except (TypeError, ValueError):
        seconds = float("nan")
    if isinstance(raw, bool) or not 0 <= seconds <= MAX_GRACE_PERIOD:
        return [
            Error(
                f'LOGTO_M2M["KEY_ROTATION_GRACE_PERIOD"] = {raw!r} is not a number of seconds between 0 and '
                f"{MAX_GRACE_PERIOD} (30 days).",
                id="logto_m2m.E060",
            )
        ]
    problem = short_grace_period(seconds)
    if problem:
        return [
            Warning(
                f'LOGTO_M2M["KEY_ROTATION_GRACE_PERIOD"] = {seconds:g}: {problem}',
                hint="Use at least JWKS_CACHE_SECONDS and the JWKS max-age (300 s), e.g. 3600; or 0 to rotate at "
                "once and rely on the unknown-kid refresh of remote validators.",
                id="logto_m2m.W060",
            )
        ]
    return []


@register(Tags.database)
def check_staged_key_grace_period(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Any]:
    """A staged Next key due sooner after its publication than remote validators keep the JWKS."""
    from django.db import DatabaseError, router

    from .key_rotation import short_grace_period
    from .models import KeyStatus, SigningKey

    warnings: list[Any] = []
    for alias in databases or ():  # only with ``check --database <alias>``, like Django's own
        if not router.allow_migrate_model(alias, SigningKey):
            continue
        try:
            staged = list(SigningKey.objects.using(alias).filter(status=KeyStatus.NEXT, effective_at__isnull=False))
        except DatabaseError:
            continue  # not migrated yet
        for key in staged:
            assert key.effective_at is not None
            problem = short_grace_period((key.effective_at - key.created_at).total_seconds())
            if problem:
                warnings.append(
                    Warning(
                        f"The staged signing key {key.kid} signs from {key.effective_at:%Y-%m-%d %H:%M:%S} UTC. "
                        f"{problem}",
                        hint="Delete it and stage a key with a longer grace period, or accept the refusals.",
                        id="logto_m2m.W061",
                    )
                )
    return warnings
