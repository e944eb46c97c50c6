"""The built-in management resource, its scopes and the "Management API access" role.

``all`` grants every operation; the other built-in scopes (:data:`BUILTIN_SCOPES`) grant one kind each,
for least-privilege clients. Created on first need (:func:`ensure_management_resource`,
:func:`ensure_management_role`, used by ``manage.py m2m bootstrap``); the resource and its scopes are
read-only through the Management API.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from ..conf import m2m_settings
from ..grants import MANAGEMENT_ALL_SCOPE
from ..models import Resource, Role, RoleType, Scope

MANAGEMENT_RESOURCE_NAME = "Management API"
MANAGEMENT_SCOPE = MANAGEMENT_ALL_SCOPE
MANAGEMENT_SCOPE_DESCRIPTION = "Every operation of this project's Management API."

READ_APPLICATIONS = "read:applications"
WRITE_APPLICATIONS = "write:applications"
WRITE_APPLICATION_SECRETS = "write:application-secrets"
READ_RESOURCES = "read:resources"
WRITE_RESOURCES = "write:resources"
READ_ROLES = "read:roles"
WRITE_ROLES = "write:roles"
WRITE_ROLE_ASSIGNMENTS = "write:role-assignments"
READ_LOGS = "read:logs"
READ_SIGNING_KEYS = "read:signing-keys"
WRITE_SIGNING_KEYS = "write:signing-keys"
READ_ORGANIZATIONS = "read:organizations"
WRITE_ORGANIZATIONS = "write:organizations"

#: Every built-in scope of the management resource and its description; ``all`` grants them all.
BUILTIN_SCOPES: dict[str, str] = {
    MANAGEMENT_SCOPE: MANAGEMENT_SCOPE_DESCRIPTION,
    READ_APPLICATIONS: "Read applications, their roles and their secrets' names.",
    WRITE_APPLICATIONS: "Create, change and delete applications (not their secrets or roles).",
    WRITE_APPLICATION_SECRETS: "Add, rename and delete application secrets.",
    READ_RESOURCES: "Read API resources and their scopes.",
    WRITE_RESOURCES: "Create, change and delete API resources and their scopes.",
    READ_ROLES: "Read roles, their scopes and their applications.",
    WRITE_ROLES: "Create, change and delete roles and their scopes.",
    WRITE_ROLE_ASSIGNMENTS: "Assign roles to applications and remove them.",
    READ_LOGS: "Read the token request audit log.",
    READ_SIGNING_KEYS: "Read the signing keys.",
    WRITE_SIGNING_KEYS: "Rotate and delete signing keys.",
    READ_ORGANIZATIONS: "Read organizations.",
    WRITE_ORGANIZATIONS: "Create, change and delete organizations and their members.",
}
MANAGEMENT_ROLE_NAME = "Management API access"
MANAGEMENT_ROLE_DESCRIPTION = "Full access to the Management API (scope all)."


def management_indicator() -> str:
    return m2m_settings.MANAGEMENT_API_INDICATOR


def is_management_resource(resource: Resource) -> bool:
    return bool(resource.indicator == management_indicator())


def _get_or_create(model: type, lookup: dict[str, object], defaults: dict[str, object]) -> object:
    # get_or_create already retries the read after a lost race; the savepoint keeps an
    # outer transaction usable when it does.
    try:
        with transaction.atomic():
            obj, _ = model._default_manager.get_or_create(**lookup, defaults=defaults)  # type: ignore[attr-defined]
            return obj
    except IntegrityError:
        return model._default_manager.get(**lookup)  # type: ignore[attr-defined]


def ensure_management_resource() -> tuple[Resource, Scope]:
    """The management resource and its ``all`` scope, created when missing (with the other built-in scopes)."""
    resource = _get_or_create(Resource, {"indicator": management_indicator()}, {"name": MANAGEMENT_RESOURCE_NAME})
    assert isinstance(resource, Resource)
    scopes = ensure_builtin_scopes(resource)
    return resource, scopes[MANAGEMENT_SCOPE]


def ensure_builtin_scopes(resource: Resource) -> dict[str, Scope]:
    """Every scope of :data:`BUILTIN_SCOPES` on the management resource, created when missing."""
    existing = {scope.name: scope for scope in resource.scopes.filter(name__in=BUILTIN_SCOPES)}
    for name, description in BUILTIN_SCOPES.items():
        if name not in existing:
            scope = _get_or_create(Scope, {"resource": resource, "name": name}, {"description": description})
            assert isinstance(scope, Scope)
            existing[name] = scope
    return existing


def ensure_management_role() -> Role:
    """The "Management API access" M2M role holding the ``all`` scope, created when missing."""
    _, scope = ensure_management_resource()
    role = _get_or_create(
        Role,
        {"name": MANAGEMENT_ROLE_NAME},
        {"description": MANAGEMENT_ROLE_DESCRIPTION, "type": RoleType.MACHINE_TO_MACHINE},
    )
    assert isinstance(role, Role)
    role.scopes.add(scope)
    return role


def management_scope_ids() -> list[str]:
    return list(Scope.objects.filter(resource__indicator=management_indicator()).values_list("id", flat=True))
