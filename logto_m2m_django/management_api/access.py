"""Who may call which Management API route: least-privilege scopes, and no escalation.

Each view declares what it needs with :func:`route_scopes`::

    class ApplicationListView(ManagementView):
        required_scopes_by_method = route_scopes(read=READ_APPLICATIONS, write=WRITE_APPLICATIONS)

GET, HEAD and OPTIONS need the ``read`` scope, the other methods the ``write`` one; a token holding
``all`` passes everywhere. A view that declares nothing needs ``all`` (see ``ManagementView``).

Holding a narrow scope must never lead to a wider one, so some writes need ``all`` whatever the
route's own scope (:func:`require_all`): putting a Management API scope on a role, giving an
application a role that holds one, setting ``isAdmin``, and adding a secret to an application that
holds one (its new secret would be a way in to that application's scopes).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from ..drf import JWTAccessTokenAuthentication, RequiredScopes
from ..drf.permissions import InsufficientScope
from ..drf.principal import M2MPrincipal
from ..models import M2MApplication, Role, RoleType, Scope
from ..models.organizations import ORGANIZATION_URN_PREFIX
from .builtin import MANAGEMENT_SCOPE, management_indicator
from .errors import unprocessable

READ_METHODS = ("GET", "HEAD", "OPTIONS")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def route_scopes(*, read: str | None = None, write: str | None = None) -> dict[str, list[str]]:
    """The scope each HTTP method needs: ``read`` for GET/HEAD/OPTIONS, ``write`` for the rest.

    When a route has only one kind of method, the other kind needs the same scope (so that a caller
    allowed on the route gets DRF's 405 for a method it does not implement, not a 403).
    """
    if read is None and write is None:
        raise ValueError("route_scopes() needs a read or a write scope")
    read_scope, write_scope = read or write, write or read
    return {
        **{method: [str(read_scope)] for method in READ_METHODS},
        **{method: [str(write_scope)] for method in WRITE_METHODS},
    }


class ManagementTokenAuthentication(JWTAccessTokenAuthentication):
    """The Management API's Bearer tokens: never one bound to an organization.

    The Management API is this project's own, not a tenant's: a token carrying the ``organization_id``
    claim (an organization-level API resource token) or an ``urn:logto:organization:`` audience (an
    organization token) is 401 ``invalid_token`` (RFC 6750 §3.1, "invalid for other reasons"), whoever
    signed it, so that an organization role can never be a way in.
    """

    def authenticate(self, request: Request) -> tuple[M2MPrincipal, dict[str, Any]] | None:
        result = super().authenticate(request)
        if result is not None:
            claims = result[1]
            audiences = claims.get("aud")
            audiences = audiences if isinstance(audiences, list) else [audiences]
            if "organization_id" in claims or any(
                isinstance(aud, str) and aud.startswith(ORGANIZATION_URN_PREFIX) for aud in audiences
            ):
                self._fail(request, "The Management API does not accept organization tokens.")
        return result


class ManagementScopes(RequiredScopes):
    """``all`` grants every route; otherwise the scope the view declares for the method (RFC 6750 §3.1:
    a missing scope is a 403 whose challenge names it)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if isinstance(user, M2MPrincipal) and MANAGEMENT_SCOPE in user.scopes:
            return True
        return super().has_permission(request, view)


def holds_all(request: Request) -> bool:
    user = request.user
    return isinstance(user, M2MPrincipal) and MANAGEMENT_SCOPE in user.scopes


def require_all(request: Request) -> None:
    """403 ``insufficient_scope`` naming ``all`` unless the caller holds it."""
    if not holds_all(request):
        raise InsufficientScope([MANAGEMENT_SCOPE])


def management_scopes() -> Any:
    return Scope.objects.filter(resource__indicator=management_indicator())


def check_scopes_grantable(request: Request, scope_ids: list[str]) -> None:
    """Putting Management API scopes on a role needs ``all``."""
    if scope_ids and not holds_all(request) and management_scopes().filter(id__in=scope_ids).exists():
        raise InsufficientScope([MANAGEMENT_SCOPE])


def check_organization_role_scopes(scope_ids: list[str]) -> None:
    """An organization role never holds a Management API scope (422), whoever asks: the Management API
    refuses organization tokens, and the project's own API is not a tenant's."""
    if not scope_ids:
        return
    found = management_scopes().filter(id__in=scope_ids).values_list("id", flat=True).first()
    if found is not None:
        raise unprocessable(
            "organization_role.management_api_scope_not_allowed",
            f"The scope `{found}` belongs to the Management API: organization roles can't hold it.",
            id=found,
        )


def check_roles_assignable(request: Request, role_ids: list[str]) -> None:
    """Giving an application a role that holds a Management API scope needs ``all``."""
    if not role_ids or holds_all(request):
        return
    if Role.objects.filter(id__in=role_ids, scopes__resource__indicator=management_indicator()).exists():
        raise InsufficientScope([MANAGEMENT_SCOPE])


def check_role_assignable(request: Request, role: Role) -> None:
    check_roles_assignable(request, [role.id])


def check_application_securable(request: Request, m2m: M2MApplication) -> None:
    """Adding a secret to an application that holds a Management API scope needs ``all``."""
    if holds_all(request):
        return
    if m2m.roles.filter(type=RoleType.MACHINE_TO_MACHINE, scopes__resource__indicator=management_indicator()).exists():
        raise InsufficientScope([MANAGEMENT_SCOPE])
