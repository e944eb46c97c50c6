"""Permissions for Logto's organization tokens (an M2M app acting inside one tenant of your product).

Logto issues two kinds, and never one with both marks:

- an **organization token** (``organization_id`` without ``resource``): ``aud`` is
  ``urn:logto:organization:<id>`` and there is **no** ``organization_id`` claim; its scopes are
  organization scopes. :func:`HasOrganization` recognises it by its audience alone.
- an **organization-level API resource token** (``organization_id`` and ``resource``): ``aud`` is the
  API's indicator and the ``organization_id`` claim names the organization; its scopes are the API's.
  :func:`HasOrganizationResource` checks that claim against the organization the request is about.

Both read the organization from the view's URL (``view.kwargs["organization_id"]`` by default) or take
a fixed one, and compose with ``HasScope`` through DRF's ``&``, ``|`` and ``~``. Neither touches the
database: they read the claims the authentication class has already verified.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .principal import M2MPrincipal

#: Logto's organization tokens carry ``aud = "urn:logto:organization:<organization id>"``.
ORGANIZATION_AUDIENCE_PREFIX = "urn:logto:organization:"


def organization_audience(organization_id: str) -> str:
    """The audience of a Logto organization token: ``urn:logto:organization:<id>``."""
    return f"{ORGANIZATION_AUDIENCE_PREFIX}{organization_id}"


def _expected(view: Any, organization_id: str | None, url_kwarg: str, factory: str) -> str:
    expected = organization_id or (getattr(view, "kwargs", None) or {}).get(url_kwarg)
    if not expected:
        raise ImproperlyConfigured(
            f"{type(view).__name__}: {factory}() needs an organization ID or the URL keyword argument {url_kwarg!r}."
        )
    return str(expected)


def _name(factory: str, organization_id: str | None, url_kwarg: str) -> str:
    return f"{factory}({organization_id!r})" if organization_id else f"{factory}(url_kwarg={url_kwarg!r})"


def HasOrganization(  # noqa: N802 - a class factory reads like a class
    organization_id: str | None = None, *, url_kwarg: str = "organization_id"
) -> type[BasePermission]:
    """An organization token for one organization: ``aud`` holds ``urn:logto:organization:<id>``.

    The organization is ``organization_id``, or the one in the view's URL. The view's ``audience``
    is that organization's URN too (a property reading ``self.kwargs``), so the authentication class
    already refuses another organization's token with 401; this class also refuses API resource
    tokens where a view's audience is shared. Organization scopes: ``HasOrganization() & HasScope(...)``.
    """

    class _HasOrganization(BasePermission):
        message = "The access token is not an organization token for this organization."

        def has_permission(self, request: Request, view: Any) -> bool:
            user = request.user
            if not isinstance(user, M2MPrincipal):
                return False
            expected = _expected(view, organization_id, url_kwarg, "HasOrganization")
            return organization_audience(expected) in user.audience

    _HasOrganization.__name__ = _HasOrganization.__qualname__ = _name("HasOrganization", organization_id, url_kwarg)
    return _HasOrganization


def HasOrganizationResource(  # noqa: N802 - a class factory reads like a class
    organization_id: str | None = None, *, url_kwarg: str = "organization_id"
) -> type[BasePermission]:
    """An organization-level API resource token for one organization.

    The view's ``audience`` is the API (checked by the authentication class); this class requires
    the token's ``organization_id`` claim to name the organization (``organization_id``, or the one in
    the view's URL). A token without the claim (a global token of the same API) is refused: it was
    not issued for any organization. API scopes: ``HasOrganizationResource() & HasScope(...)``.
    """

    class _HasOrganizationResource(BasePermission):
        message = "The access token is not for this organization."

        def has_permission(self, request: Request, view: Any) -> bool:
            user = request.user
            if not isinstance(user, M2MPrincipal):
                return False
            expected = _expected(view, organization_id, url_kwarg, "HasOrganizationResource")
            claim = user.claims.get("organization_id")
            if not isinstance(claim, str) or claim != expected:
                return False
            # Logto never puts the claim on a token whose audience is an organization URN.
            return not any(aud.startswith(ORGANIZATION_AUDIENCE_PREFIX) for aud in user.audience)

    _HasOrganizationResource.__name__ = _HasOrganizationResource.__qualname__ = _name(
        "HasOrganizationResource", organization_id, url_kwarg
    )
    return _HasOrganizationResource
