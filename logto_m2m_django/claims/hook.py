"""Running the custom-claims hook: Logto's custom JWT for client credentials, in Python.

``LOGTO_M2M["CUSTOM_CLAIMS"]`` names a callable called with keyword arguments shaped like the
arguments of Logto's ``getCustomJwtClaims({ token, context, environmentVariables, api })``:

- ``token``: the token being issued, as Logto's client-credentials payload (``jti``, ``aud``,
  ``scope``, ``clientId``, ``kind: "ClientCredentials"``; ``organizationId`` for an organization token);
- ``context``: ``{"application": {...}}`` (id, name, description, type, customData, roles; never a secret);
- ``environment_variables``: a read-only mapping from ``CUSTOM_CLAIMS_ENVIRONMENT``;
- ``api``: :class:`HookApi`, whose ``deny_access(message)`` refuses the request.

It returns a dict of claims to add. What Logto does with a script's outcome is followed here
(``packages/core/src/oidc/extra-token-claims.ts``): a denial refuses the token request with
``access_denied`` (status 400); any other failure (an exception, a result that is not a JSON object,
a run over the time limit) issues the token without custom claims, unless
``CUSTOM_CLAIMS_BLOCK_ON_ERROR`` is set, then the request fails with ``invalid_request``. As in
Logto, the token's own claims win over the hook's: reserved names are dropped.

The hook runs in the request's thread, so it may use the ORM. Python cannot stop a running
function: a run longer than ``CUSTOM_CLAIMS_TIMEOUT`` is measured and treated as a failure, but the
request has waited for it; give any I/O inside the hook a timeout of its own.

``EXTRA_CLAIMS`` (deprecated) is run the same way with its old signature ``(claims, context)``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NoReturn

from ..conf import m2m_settings
from ..models._fields import json_size

logger = logging.getLogger("logto_m2m_django.claims")

#: Claims the token endpoint sets itself (RFC 9068 §2.2, RFC 7519 §4.1, Logto's organization tokens).
RESERVED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "organization_id"})
TOKEN_KIND = "ClientCredentials"
_MAX_DENY_MESSAGE = 256
#: Clock of the time limit (monotonic; replaced by tests).
_clock: Callable[[], float] = time.monotonic


class AccessDenied(Exception):  # noqa: N818 - named after Logto's api.denyAccess / access_denied
    """The hook called ``api.deny_access()``: the token request is refused."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class CustomClaimsError(Exception):
    """The hook failed while ``CUSTOM_CLAIMS_BLOCK_ON_ERROR`` is on: no token is issued."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason, self.description = reason, description


class HookApi:
    """The ``api`` argument (Logto's ``api``)."""

    __slots__ = ("dry_run",)

    def __init__(self, *, dry_run: bool = False) -> None:
        #: True when an admin page previews the claims: no token is being issued.
        self.dry_run = dry_run

    def deny_access(self, message: str = "") -> NoReturn:
        """Refuse the token request with ``access_denied`` and ``message`` as its description."""
        raise AccessDenied(str(message)[:_MAX_DENY_MESSAGE])

    denyAccess = deny_access  # noqa: N815 - Logto's spelling


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run of the hook gives the token."""

    claims: dict[str, Any] = field(default_factory=dict)
    #: Why the hook's claims were not used ("" when they were): recorded in the activity log.
    error: str = ""
    detail: str = ""
    #: Reserved claims the hook tried to set (dropped; the token's own values stay).
    dropped: tuple[str, ...] = ()
    #: The message of ``api.deny_access()``, when the hook denied the request.
    denied: str | None = None
    exception: Exception | None = field(default=None, repr=False, compare=False)

    @property
    def note(self) -> str:
        """The activity log's note for this run: ``custom_claims:<reason>``, or "" when all went well."""
        reason = self.error or ("reserved" if self.dropped else "")
        return f"custom_claims:{reason}" if reason else ""


def _hook() -> tuple[Callable[..., Any], bool] | None:
    """The configured hook and whether it is the deprecated ``EXTRA_CLAIMS`` (raises on a bad import path)."""
    hook = m2m_settings.CUSTOM_CLAIMS
    if hook is not None:
        return hook, False
    legacy = m2m_settings.EXTRA_CLAIMS
    return (legacy, True) if legacy is not None else None


def is_configured() -> bool:
    """Whether a hook is set (cheap: read on every token request)."""
    return bool(m2m_settings.get("CUSTOM_CLAIMS") or m2m_settings.get("EXTRA_CLAIMS"))


def token_payload(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The token as Logto's client-credentials script sees it (``clientCredentialsPayloadGuard``)."""
    token: dict[str, Any] = {"jti": claims["jti"], "aud": claims["aud"]}
    if claims.get("scope"):
        token["scope"] = claims["scope"]
    token["clientId"] = claims["client_id"]
    token["kind"] = TOKEN_KIND
    if claims.get("organization_id"):
        token["organizationId"] = claims["organization_id"]
    return token


def _call(hook: Callable[..., Any], legacy: bool, claims: Mapping[str, Any], application: Any, dry_run: bool) -> Any:
    if legacy:
        return hook(dict(claims), {"client_id": claims["client_id"], "resource": claims["aud"]})
    return hook(
        token=token_payload(claims),
        context={"application": application} if application is not None else {},
        environment_variables=MappingProxyType(m2m_settings.CUSTOM_CLAIMS_ENVIRONMENT),
        api=HookApi(dry_run=dry_run),
    )


def _checked(value: Any) -> Outcome:
    """The hook's result as claims to add: a JSON object under the size limit, reserved names dropped."""
    if value is None:
        return Outcome()  # nothing to add
    if not isinstance(value, dict):
        return Outcome(error="not_an_object", detail=f"the hook returned {type(value).__name__}, not a dict")
    if not all(isinstance(key, str) for key in value):
        return Outcome(error="not_an_object", detail="the hook returned a dict with keys that are not strings")
    try:
        size = json_size(value)
    except (TypeError, ValueError, RecursionError) as exc:
        return Outcome(error="not_json", detail=f"the hook's claims are not plain JSON ({exc})")
    limit = m2m_settings.CUSTOM_CLAIMS_MAX_BYTES
    if size > limit:
        return Outcome(error="too_large", detail=f"the hook's claims take {size} bytes of JSON; the limit is {limit}")
    dropped = tuple(sorted(key for key in value if key in RESERVED_CLAIMS))
    claims = {key: item for key, item in value.items() if key not in RESERVED_CLAIMS}
    detail = f"reserved claims dropped: {', '.join(dropped)}" if dropped else ""
    return Outcome(claims=claims, dropped=dropped, detail=detail)


def evaluate(claims: Mapping[str, Any], application: Any, *, dry_run: bool = False) -> Outcome | None:
    """Run the hook for a token with these ``claims``; None when no hook is configured. Never raises
    (but BaseExceptions such as KeyboardInterrupt pass through)."""
    try:
        found = _hook()
    except Exception as exc:  # a bad import path (system check logto_m2m.E040)
        return Outcome(error="import", detail=f"the hook can't be imported ({exc})")
    if found is None:
        return None
    hook, legacy = found
    started = _clock()
    try:
        value = _call(hook, legacy, claims, application, dry_run)
    except AccessDenied as exc:
        return Outcome(denied=exc.message)
    except Exception as exc:
        return Outcome(error="exception", detail=f"the hook raised {type(exc).__name__}: {exc}", exception=exc)
    elapsed = _clock() - started
    timeout = m2m_settings.CUSTOM_CLAIMS_TIMEOUT
    if timeout and elapsed > timeout:
        return Outcome(error="timeout", detail=f"the hook took {elapsed:.3f} s; the limit is {timeout:g} s")
    return _checked(value)


def claims_for_token(claims: Mapping[str, Any], application: Any) -> tuple[dict[str, Any], str]:
    """The claims to add to a token being issued, and the activity note ("" when the hook ran cleanly).

    Raises :class:`AccessDenied` when the hook denied the request, and :class:`CustomClaimsError`
    when it failed while ``CUSTOM_CLAIMS_BLOCK_ON_ERROR`` is on.
    """
    outcome = evaluate(claims, application)
    if outcome is None:
        return {}, ""
    if outcome.denied is not None:
        raise AccessDenied(outcome.denied)
    client_id = claims.get("client_id")
    if outcome.error:
        if m2m_settings.CUSTOM_CLAIMS_BLOCK_ON_ERROR:
            logger.warning(
                "Custom claims hook failed for client %s: %s; request refused",
                client_id,
                outcome.detail,
                exc_info=outcome.exception,
            )
            raise CustomClaimsError(outcome.error, _DESCRIPTIONS.get(outcome.error, "the hook failed."))
        logger.warning(
            "Custom claims hook failed for client %s: %s; token issued without custom claims",
            client_id,
            outcome.detail,
            exc_info=outcome.exception,
        )
    elif outcome.dropped:
        logger.warning("Custom claims hook for client %s: %s", client_id, outcome.detail)
    return outcome.claims, outcome.note


#: What the client is told when a blocking hook fails (the details go to the log only).
_DESCRIPTIONS = {
    "import": "the hook is not available.",
    "exception": "the hook raised an error.",
    "timeout": "the hook took too long.",
    "not_an_object": "the hook did not return an object.",
    "not_json": "the hook's claims are not JSON.",
    "too_large": "the hook's claims are too large.",
}
