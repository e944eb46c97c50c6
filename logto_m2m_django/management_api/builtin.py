"""The built-in management resource, its ``all`` scope and the "Management API access" role.

Created on first need (:func:`ensure_management_resource`, :func:`ensure_management_role`, used by
``manage.py m2m bootstrap``); the resource and its scope are read-only through the Management API.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from ..conf import m2m_settings
from ..models import Resource, Role, RoleType, Scope

MANAGEMENT_RESOURCE_NAME = "Management API"
MANAGEMENT_SCOPE = "all"
MANAGEMENT_SCOPE_DESCRIPTION = "Every operation of this project's Management API."
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
    """The management resource and its ``all`` scope, created when missing."""
    resource = _get_or_create(Resource, {"indicator": management_indicator()}, {"name": MANAGEMENT_RESOURCE_NAME})
    assert isinstance(resource, Resource)
    scope = _get_or_create(
        Scope, {"resource": resource, "name": MANAGEMENT_SCOPE}, {"description": MANAGEMENT_SCOPE_DESCRIPTION}
    )
    assert isinstance(scope, Scope)
    return resource, scope


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
