"""``organization_id`` on the token endpoint: Logto's organization tokens for client credentials.

Logto's rules (``oidc/grants/client-credentials.ts``): membership is checked first, and a
non-member gets 403 ``access_denied`` whatever else was asked; without ``resource`` the token is
an organization token (the default resource is ignored); with ``resource`` it is an
organization-level API resource token. The parameter is never ignored: a client asking for a
tenant-bound token never receives a broader, global one.
"""

from __future__ import annotations

from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors

from .. import organization_grants
from ..conf import m2m_settings
from ..grants import Grant
from ..models._fields import indicator_problem
from .errors import InvalidTargetError


class OrganizationAccessDeniedError(oauthlib_errors.AccessDeniedError):
    """RFC 6749 §5.2 ``access_denied``, answered with 403 as Logto does for organization tokens."""

    status_code = 403
    description = "app has not associated with the organization"


def organization_param(request: Request) -> str | None:
    """The ``organization_id`` parameter (the view has already refused a repeated one), or None."""
    values = [value for key, value in (request.decoded_body or ()) if key == "organization_id"]
    if not values:
        return None
    if not values[0]:
        # Logto reads an empty value as "no organization"; here it is refused rather than
        # silently answered with a global token.
        raise oauthlib_errors.InvalidRequestError(description='The "organization_id" parameter is empty.')
    return values[0]


def organization_grant(application_pk: object, organization_id: str, indicator: str | None) -> Grant:
    """The organization grant, or the OAuth error for it (403 before anything else for a non-member).

    The Management API is no organization's API: its organization-level token is never issued
    (RFC 8707 §2 ``invalid_target``), whatever organization roles hold, and its guard refuses one.
    """
    if indicator is not None and indicator == m2m_settings.MANAGEMENT_API_INDICATOR:
        raise InvalidTargetError(description="The Management API is not an organization resource.")
    try:
        return organization_grants.organization_grant_for(application_pk, organization_id, indicator)
    except organization_grants.NotAMemberError as exc:
        raise OrganizationAccessDeniedError() from exc
    except organization_grants.UnknownResourceError as exc:
        # RFC 8707 §2: an absolute URI without a fragment, and one this server knows.
        problem = indicator_problem(indicator or "")
        raise InvalidTargetError(description=problem or "The requested resource is not registered.") from exc


def organization_claims(grant: Grant) -> dict[str, str]:
    """``organization_id`` for an organization-level API resource token; nothing otherwise (as Logto)."""
    if isinstance(grant, organization_grants.OrganizationGrant) and grant.with_claim:
        return {"organization_id": grant.organization_id}
    return {}
