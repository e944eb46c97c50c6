"""The django-oauth-toolkit ``OAuth2Validator`` subclass behind ``POST /oidc/token``.

oauthlib drives the client-credentials grant (RFC 6749 §4.4); this validator
answers its questions from this package's tables: client authentication
against the application's default secret and named secrets (one query), the
RFC 8707 resource and the scopes its roles grant (one query), and it stores
no access-token row (tokens are self-contained JWTs).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import unquote_plus

from django.db.models import Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from oauth2_provider.models import get_application_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors

from .. import grants
from .._internal.prepared import PreparedValues
from ..activity import APPLICATION_NOTE
from ..claims import context as claims_context
from ..claims import hook as claims_hook
from ..conf import m2m_settings
from ..grant_cache import MISSING, grant_cache
from ..models import ApplicationSecret, M2MApplication
from ..models._fields import indicator_problem
from ..secrets import credential_digest, hash_secret, is_fast_hash, verify_each
from ._context import current_request, note
from .errors import ExpiredSecretError, InvalidTargetError
from .organizations import organization_grant, organization_param

GRANT_CLIENT_CREDENTIALS = "client-credentials"
CLIENT_CONFIDENTIAL = "confidential"
_MAX_CREDENTIAL_LENGTH = 512
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
#: C0 controls and DEL (a regular expression: a per-character Python loop showed in the token endpoint's profile).
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")


@dataclass(slots=True)
class AuthenticatedClient:
    """The client as the rest of the grant sees it (oauthlib reads ``client_id``)."""

    pk: Any
    client_id: str
    is_m2m: bool
    is_enabled: bool
    grant_type: str
    client_type: str
    secret_id: int | None  # the named secret that matched; None for the default secret
    last_used_at: datetime | None
    #: The named secret's name ("" for the default secret), for the activity log.
    secret_name: str = ""
    #: ``context.application`` for the custom-claims hook; None when no hook is configured.
    application: dict[str, Any] | None = field(default=None, repr=False)
    #: When the named secret that matched expires (None: never, or the default secret).
    secret_expires_at: datetime | None = None
    #: Its key in the grant cache (the credential digest); None when it was not looked up there.
    cache_key: str | None = None


class ClientCredentials:
    """The client's credentials, from the Authorization header or the body."""

    __slots__ = ("client_id", "secret", "via_basic")

    def __init__(self, client_id: str | None, secret: str | None, via_basic: bool) -> None:
        self.client_id = client_id
        self.secret = secret
        self.via_basic = via_basic


def decode_basic(value: str) -> tuple[str, str] | None:
    """The client ID and secret of a Basic credential (the part after "Basic "), or None when malformed.

    RFC 7617 §2 with RFC 6749 §2.3.1: base64 (canonical, RFC 4648 §4; Python < 3.11 tolerates extra
    padding) of ``id:secret``, each form-urlencoded first.
    """
    value = value.strip()
    if not value or len(value) > _MAX_CREDENTIAL_LENGTH * 2 or not _BASE64.fullmatch(value):
        return None
    try:
        raw_id, sep, raw_secret = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        client_id = unquote_plus(raw_id, errors="strict")
        secret = unquote_plus(raw_secret, errors="strict")
    except (binascii.Error, ValueError):
        return None
    if not sep or not client_id or not secret:
        return None
    return client_id, secret


def parse_credentials(request: Request) -> ClientCredentials:
    """RFC 6749 §2.3.1: ``client_secret_basic`` or ``client_secret_post``, not both.

    Returns credentials with ``client_id`` None when they are missing or
    malformed (the caller answers ``invalid_client``); raises
    ``InvalidRequestError`` when both methods are used at once.
    """
    header = request.headers.get("Authorization")
    body_id, body_secret = request.client_id, request.client_secret
    if header is None:
        return ClientCredentials(body_id or None, body_secret or None, via_basic=False)
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return ClientCredentials(None, None, via_basic=True)
    if body_secret is not None:
        raise oauthlib_errors.InvalidRequestError(
            description="Use one client authentication method: the Authorization header or client_secret in the body."
        )
    decoded = decode_basic(value)
    if decoded is None:
        return ClientCredentials(None, None, via_basic=True)
    client_id, secret = decoded
    if body_id is not None and body_id != client_id:
        raise oauthlib_errors.InvalidRequestError(
            description="client_id in the body differs from the Authorization header."
        )
    return ClientCredentials(client_id, secret, via_basic=True)


def _plausible(value: str) -> bool:
    """Short and free of control characters: anything else can't be a client ID or secret.

    (PostgreSQL can't even compare a string holding a NUL byte, so such a value
    must never reach a query.)
    """
    return len(value) <= _MAX_CREDENTIAL_LENGTH and _CONTROL_CHARACTER.search(value) is None


def _client_query(client_id: str, with_profile: bool = False) -> Any:
    """The application named ``client_id``, or when there is none, a stand-in: the next application by ID.

    Both answers cost the database the same work (one seek in the unique index of client IDs to the first
    ID >= the one asked for, then that application's rows with its secrets), so an unknown ID can't be told
    from a known one by the query's time. Only an ID after the last one also reads the first ID. The caller
    recognises the stand-in by its ``client_id`` and checks the secret against dummies of the same count.
    With a custom-claims hook the same statement also reads what the hook receives (no extra query).
    """
    profile = claims_context.PROFILE_FIELDS if with_profile else ()
    extra = {claims_context.ROLES_FIELD: claims_context.roles_expression()} if with_profile else {}
    model = get_application_model()
    at_or_after = model.objects.filter(client_id__gte=client_id).order_by("client_id").values("client_id")[:1]
    first = model.objects.order_by("client_id").values("client_id")[:1]
    return model.objects.filter(client_id=Coalesce(Subquery(at_or_after), Subquery(first))).values(
        *profile,
        "pk",
        "client_id",
        "client_secret",
        "client_type",
        "authorization_grant_type",
        "m2m__is_enabled",
        "m2m__last_used_at",
        "m2m__secrets__id",
        "m2m__secrets__name",
        "m2m__secrets__secret_hash",
        "m2m__secrets__expires_at",
        "m2m__secrets__last_used_at",
        **extra,
    )


# Compiled once per thread: building and compiling this queryset cost a fifth of a token request.
_prepared_client_query = PreparedValues(get_application_model, _client_query)
_prepared_client_profile_query = PreparedValues(get_application_model, lambda v: _client_query(v, with_profile=True))


def _load_client(client_id: str) -> list[dict[str, Any]]:
    """The application (or the stand-in), its M2M record and its named secrets: one query, one row per secret."""
    if claims_hook.is_configured():
        return _prepared_client_profile_query(client_id)
    return _prepared_client_query(client_id)


def authenticate(credentials: ClientCredentials, generation: int | None = None) -> AuthenticatedClient | None:
    """Check the secret against the default secret and every named secret.

    ``generation`` (from :meth:`GrantCache.start`, None: no cache) lets a client that authenticated with
    this very secret before be answered from the process's grant cache, without SQL; any other
    presentation, a wrong secret included, takes the database path below.

    An unknown client ID does the same work as a wrong secret (no enumeration, DESIGN §3): the same query
    returning one application's rows, the same row conversion, and the same number of HMACs
    (:func:`~logto_m2m_django.secrets.verify_each`, padded with dummies). A hash left by a slow hasher
    (DOT's PBKDF2 default) is replaced by an HMAC hash once its secret authenticates.
    """
    client_id, secret = credentials.client_id, credentials.secret
    if not client_id or not secret or not _plausible(client_id) or not _plausible(secret):
        verify_each(secret or "", [])
        return None
    digest = None
    if generation is not None:
        digest = credential_digest(client_id, secret)
        cached = grant_cache.client(digest)
        if cached is not None:
            if cached.secret_expires_at is not None and cached.secret_expires_at <= timezone.now():
                raise ExpiredSecretError()
            return cached
    rows = _load_client(client_id)
    # Client IDs are public; compare_digest only keeps this test as flat as the rest.
    genuine = bool(rows) and hmac.compare_digest(str(rows[0]["client_id"]).encode(), client_id.encode())
    app = rows[0] if rows else {}
    named = [row for row in rows if row["m2m__secrets__id"] is not None]
    hashes = [app.get("client_secret") or "", *(row["m2m__secrets__secret_hash"] for row in named)]
    results = verify_each(secret, hashes if genuine else ["" for _ in hashes])
    if not genuine or not any(results):
        return None
    default_ok = results[0]
    matched = None if default_ok else named[results.index(True, 1) - 1]
    if matched is not None:
        expires_at = matched["m2m__secrets__expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise ExpiredSecretError()
    _upgrade_slow_hash(app, matched, secret)
    client = AuthenticatedClient(
        pk=app["pk"],
        client_id=app["client_id"],
        is_m2m=app["m2m__is_enabled"] is not None,
        is_enabled=bool(app["m2m__is_enabled"]),
        grant_type=app["authorization_grant_type"],
        client_type=app["client_type"],
        secret_id=None if matched is None else matched["m2m__secrets__id"],
        secret_name="" if matched is None else matched["m2m__secrets__name"],
        last_used_at=app["m2m__last_used_at"] if matched is None else matched["m2m__secrets__last_used_at"],
        application=claims_context.application_from_row(app) if "m2m__custom_data" in app else None,
        secret_expires_at=None if matched is None else matched["m2m__secrets__expires_at"],
    )
    if digest is not None:
        client.cache_key = digest
        grant_cache.store_client(digest, client, generation)
    return client


def _upgrade_slow_hash(app: dict[str, Any], matched: dict[str, Any] | None, secret: str) -> None:
    """Re-hash a secret stored by a slow password hasher with the HMAC hasher, now that it is known.

    The UPDATE also matches the old hash, so a secret reset or deleted meanwhile is never brought back.
    """
    if matched is None:
        if not is_fast_hash(app["client_secret"]):
            get_application_model().objects.filter(pk=app["pk"], client_secret=app["client_secret"]).update(
                client_secret=hash_secret(secret)
            )
    elif not is_fast_hash(matched["m2m__secrets__secret_hash"]):
        ApplicationSecret.objects.filter(
            pk=matched["m2m__secrets__id"], secret_hash=matched["m2m__secrets__secret_hash"]
        ).update(secret_hash=hash_secret(secret))


def _cache_generation() -> int | None:
    """The grant cache's generation noted by the token view for this request; None: no cache."""
    django_request = current_request.get()
    return getattr(django_request, "m2m_cache_generation", None) if django_request is not None else None


def _grant_for(application_pk: Any, indicator: str | None, generation: int | None) -> grants.Grant | None:
    """:func:`grants.grant_for`, from the process's grant cache when it holds the answer."""
    if generation is not None:
        cached = grant_cache.grant(application_pk, indicator)
        if cached is not MISSING:
            return cast("grants.Grant | None", cached)
    grant = grants.grant_for(application_pk, indicator)
    grant_cache.store_grant(application_pk, indicator, grant, generation)
    return grant


def stamp_last_used(client: AuthenticatedClient, digest: str | None = None) -> None:
    """Record when a secret was used, at most once per ``LAST_USED_WRITE_INTERVAL`` (per process when the
    client came from the grant cache under ``digest``, whose copy is then stamped too)."""
    now = timezone.now()
    last = client.last_used_at
    if last is not None and now - last < timedelta(seconds=m2m_settings.LAST_USED_WRITE_INTERVAL):
        return
    # Stamps announce no change (quiet fields, models._notify): they alter no grant.
    if client.secret_id is None:
        M2MApplication.objects.filter(pk=client.pk).update(last_used_at=now)
    else:
        ApplicationSecret.objects.filter(pk=client.secret_id).update(last_used_at=now)
    if digest is not None:
        grant_cache.touch_client(digest, last_used_at=now)


class M2MOAuth2Validator(OAuth2Validator):
    """oauthlib's questions for the client-credentials grant, answered from this app's tables."""

    def client_authentication_required(self, request: Request, *args: Any, **kwargs: Any) -> bool:
        return True

    def authenticate_client(self, request: Request, *args: Any, **kwargs: Any) -> bool:
        credentials = parse_credentials(request)
        request.m2m_via_basic = credentials.via_basic
        request.m2m_cache_generation = _cache_generation()
        client = authenticate(credentials, request.m2m_cache_generation)
        if client is None:
            return False
        request.client = client
        request.client_id = client.client_id
        note("m2m_secret_name", client.secret_name)  # which copy of the credential is in use (activity log)
        # The activity row's application, without a lookup: M2MApplication's pk is the DOT Application's.
        note(APPLICATION_NOTE, client.pk if client.is_m2m else None)
        return True

    def authenticate_client_id(self, client_id: str, request: Request, *args: Any, **kwargs: Any) -> bool:
        # Public clients can't use the client-credentials grant.
        return False

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: AuthenticatedClient, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        # A disabled app, a DOT app without an M2M record, or an app of another
        # grant type answers unauthorized_client (RFC 6749 §5.2). The client has
        # authenticated, so telling it which of these applies reveals nothing.
        if not client.is_m2m:
            raise oauthlib_errors.UnauthorizedClientError(description="The client is not a machine-to-machine app.")
        if not client.is_enabled:
            raise oauthlib_errors.UnauthorizedClientError(description="The application is disabled.")
        if client.grant_type != GRANT_CLIENT_CREDENTIALS or client.client_type != CLIENT_CONFIDENTIAL:
            raise oauthlib_errors.UnauthorizedClientError(
                description="The client is not a confidential client_credentials app."
            )
        return True

    def get_default_scopes(self, client_id: str, request: Request, *args: Any, **kwargs: Any) -> list[str]:
        # No scope requested means no scope granted (Logto parity).
        return []

    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str] | None,
        client: AuthenticatedClient,
        request: Request,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        resources = [value for key, value in (request.decoded_body or ()) if key == "resource"]
        if len(resources) > 1:
            raise InvalidTargetError(description="Request one resource at a time.")
        indicator = resources[0] if resources else None
        organization_id = organization_param(request)
        grant: grants.Grant | None
        if organization_id is not None:
            # Logto's organization tokens: never answered with a global token (see oauth/organizations.py).
            grant = organization_grant(client.pk, organization_id, indicator)
        elif indicator is not None and (problem := indicator_problem(indicator)):
            # RFC 8707 §2: an absolute URI without a fragment.
            raise InvalidTargetError(description=problem)
        else:
            grant = _grant_for(client.pk, indicator, getattr(request, "m2m_cache_generation", None))
        if grant is None:
            if indicator is None:
                raise InvalidTargetError(description="No resource was requested and there is no default resource.")
            raise InvalidTargetError(description="The requested resource is not registered.")
        request.m2m_grant = grant
        requested = [s for s in (scopes or ()) if s]
        granted = grants.effective_scopes(requested, grant)
        if m2m_settings.REJECT_UNKNOWN_SCOPES and len(granted) < len(set(requested)):
            # Only when something was dropped: the common path costs no extra query.
            unknown = grants.unknown_scopes(requested, grant)
            if unknown:
                # RFC 6749 §5.2 invalid_scope: "unknown" to the resource, not merely not held.
                raise oauthlib_errors.InvalidScopeError(
                    description=f"The resource {grant.indicator} defines no scope {' '.join(unknown)}."
                )
        # Scopes the app does not hold are dropped silently (Logto parity);
        # None keeps the "scope" member out of the response when nothing is granted.
        request.scopes = granted or None
        return True

    def save_bearer_token(self, token: dict[str, Any], request: Request, *args: Any, **kwargs: Any) -> None:
        # JWT access tokens are self-contained: nothing is written but the
        # throttled last-used stamp.
        stamp_last_used(request.client, request.client.cache_key)


def token_lifetime(request: Request) -> int:
    return int(request.m2m_grant.access_token_ttl)


def now() -> int:
    return int(time.time())
