"""JSON in and out of the organization routes, with Logto's field names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet
from rest_framework import serializers
from rest_framework.request import Request

from ..models import Organization, OrganizationRole, OrganizationScope, Scope
from .errors import ApiError
from .serializers import TENANT_ID, CustomDataField, IdListField, TextField, epoch_ms

ROLE_TYPES = ("User", "MachineToMachine")


def keyword_search(request: Request, queryset: QuerySet[Any], fields: Iterable[str]) -> QuerySet[Any]:
    """Logto's ``q``: a case-insensitive substring of any of ``fields``."""
    values = request.query_params.getlist("q")
    keyword = values[-1] if values else ""
    if not keyword:
        return queryset
    if len(keyword) > 256:
        raise ApiError(400, "guard.invalid_input", "`q` is too long.")
    condition = Q()
    for name in fields:
        condition |= Q(**{f"{name}__icontains": keyword})
    return queryset.filter(condition)


# -- output ------------------------------------------------------------------


def organization_json(organization: Organization) -> dict[str, Any]:
    return {
        "tenantId": TENANT_ID,
        "id": organization.id,
        "name": organization.name,
        "description": organization.description,
        "customData": organization.custom_data or {},
        "isMfaRequired": False,
        "color": {},
        "branding": {},
        "customCss": None,
        "createdAt": epoch_ms(organization.created_at),
    }


def organization_scope_json(scope: OrganizationScope) -> dict[str, Any]:
    return {"tenantId": TENANT_ID, "id": scope.id, "name": scope.name, "description": scope.description}


def organization_role_json(role: OrganizationRole) -> dict[str, Any]:
    return {
        "tenantId": TENANT_ID,
        "id": role.id,
        "name": role.name,
        "description": role.description,
        "type": role.type,
    }


def organization_role_with_scopes_json(role: OrganizationRole) -> dict[str, Any]:
    """A list item of ``GET /api/organization-roles``: the role with both kinds of scopes (prefetched)."""
    return {
        **organization_role_json(role),
        "scopes": [{"id": sc.id, "name": sc.name} for sc in role.scopes.all()],
        "resourceScopes": [
            {"id": sc.id, "name": sc.name, "resource": {"id": sc.resource.id, "name": sc.resource.name}}
            for sc in role.resource_scopes.all()
        ],
    }


def role_refs(roles: Iterable[OrganizationRole]) -> list[dict[str, str]]:
    return [{"id": role.id, "name": role.name} for role in roles]


def resource_scope_json(scope: Scope) -> dict[str, Any]:
    return {
        "tenantId": TENANT_ID,
        "id": scope.id,
        "resourceId": scope.resource_id,
        "name": scope.name,
        "description": scope.description or None,
        "createdAt": epoch_ms(scope.created_at),
    }


# -- input -------------------------------------------------------------------


class OrganizationCreateSerializer(serializers.Serializer):
    name = TextField(min_length=1, max_length=128, trim_whitespace=False)
    description = TextField(required=False, allow_null=True, allow_blank=True, max_length=256, trim_whitespace=False)
    customData = CustomDataField(required=False)  # noqa: N815 - Logto's field names


class OrganizationUpdateSerializer(serializers.Serializer):
    name = TextField(required=False, min_length=1, max_length=128, trim_whitespace=False)
    description = TextField(required=False, allow_null=True, allow_blank=True, max_length=256, trim_whitespace=False)
    customData = CustomDataField(required=False)  # noqa: N815


class OrganizationScopeSerializer(serializers.Serializer):
    name = TextField(min_length=1, max_length=128, trim_whitespace=False)
    description = TextField(required=False, allow_null=True, allow_blank=True, max_length=256, trim_whitespace=False)


class OrganizationScopeUpdateSerializer(OrganizationScopeSerializer):
    name = TextField(required=False, min_length=1, max_length=128, trim_whitespace=False)


class OrganizationRoleCreateSerializer(OrganizationScopeSerializer):
    type = serializers.ChoiceField(choices=ROLE_TYPES, required=False)
    organizationScopeIds = IdListField(required=False)  # noqa: N815
    resourceScopeIds = IdListField(required=False)  # noqa: N815


class OrganizationRoleUpdateSerializer(OrganizationScopeUpdateSerializer):
    type = serializers.ChoiceField(choices=ROLE_TYPES, required=False)


class ApplicationIdsSerializer(serializers.Serializer):
    applicationIds = IdListField(min_length=1)  # noqa: N815


class ApplicationIdsReplaceSerializer(serializers.Serializer):
    applicationIds = IdListField()  # noqa: N815 - PUT may empty the list


class OrganizationRoleIdsSerializer(serializers.Serializer):
    organizationRoleIds = IdListField(min_length=1)  # noqa: N815


class ApplicationRolesSerializer(serializers.Serializer):
    applicationIds = IdListField(min_length=1)  # noqa: N815
    organizationRoleIds = IdListField(min_length=1)  # noqa: N815


class OrganizationScopeIdsSerializer(serializers.Serializer):
    organizationScopeIds = IdListField()  # noqa: N815


class ScopeIdsSerializer(serializers.Serializer):
    scopeIds = IdListField()  # noqa: N815
