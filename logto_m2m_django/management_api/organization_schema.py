"""OpenAPI documentation of the organization routes (attached to the views, as ``schema`` does for the others)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

from . import organization_serializers as o

_ROLE_TYPES = serializers.ChoiceField(choices=list(o.ROLE_TYPES))
_Q = [OpenApiParameter("q", OpenApiTypes.STR, description="Case-insensitive substring of the ID or the name")]
_REF = serializers.ListField(child=serializers.DictField(), help_text="[{id, name}]")


def _shape(name: str, fields: dict[str, serializers.Field]) -> Any:
    return inline_serializer(name=name, fields=fields)


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(**kwargs)


_org_fields: dict[str, serializers.Field] = {
    "tenantId": _text(),
    "id": _text(),
    "name": _text(),
    "description": _text(allow_null=True),
    "customData": serializers.DictField(),
    "isMfaRequired": serializers.BooleanField(),
    "color": serializers.DictField(),
    "branding": serializers.DictField(),
    "customCss": _text(allow_null=True),
    "createdAt": serializers.IntegerField(help_text="Epoch milliseconds"),
}
OrganizationOut = _shape("Organization", _org_fields)
OrganizationWithRolesOut = _shape("OrganizationWithRoles", {**_org_fields, "organizationRoles": _REF})
_scope_fields: dict[str, serializers.Field] = {
    "tenantId": _text(),
    "id": _text(),
    "name": _text(),
    "description": _text(allow_null=True),
}
OrganizationScopeOut = _shape("OrganizationScope", _scope_fields)
OrganizationRoleOut = _shape("OrganizationRole", {**_scope_fields, "type": _ROLE_TYPES})
OrganizationRoleWithScopesOut = _shape(
    "OrganizationRoleWithScopes",
    {
        **_scope_fields,
        "type": _ROLE_TYPES,
        "scopes": _REF,
        "resourceScopes": serializers.ListField(child=serializers.DictField(), help_text="[{id, name, resource}]"),
    },
)


def document_views(doc: Any, page: list[Any], application_out: dict[str, Any], scope_out: Any) -> None:
    """``doc`` is ``schema._doc``; ``page`` its pagination parameters."""
    from .views import organization_roles as r
    from .views import organizations as v

    many = {"many": True}
    app_with_roles = _shape("ApplicationWithOrganizationRoles", {**application_out, "organizationRoles": _REF})
    doc(v.OrganizationListView.get, response=OrganizationOut.__class__(**many), parameters=[*page, *_Q])
    doc(v.OrganizationListView.post, request=o.OrganizationCreateSerializer, response=OrganizationOut, status=201)
    doc(v.OrganizationDetailView.get, response=OrganizationOut)
    doc(v.OrganizationDetailView.patch, request=o.OrganizationUpdateSerializer, response=OrganizationOut)
    doc(v.OrganizationDetailView.delete, status=204)
    doc(v.OrganizationApplicationsView.get, response=app_with_roles.__class__(**many), parameters=[*page, *_Q])
    doc(v.OrganizationApplicationsView.post, request=o.ApplicationIdsSerializer, status=201)
    doc(v.OrganizationApplicationsView.put, request=o.ApplicationIdsReplaceSerializer, status=204)
    doc(v.OrganizationApplicationDetailView.delete, status=204)
    doc(v.OrganizationApplicationsRolesView.post, request=o.ApplicationRolesSerializer, status=201)
    doc(v.OrganizationApplicationRolesView.get, response=OrganizationRoleOut.__class__(**many), parameters=page)
    doc(v.OrganizationApplicationRolesView.post, request=o.OrganizationRoleIdsSerializer, status=201)
    doc(v.OrganizationApplicationRolesView.put, request=o.OrganizationRoleIdsSerializer, status=204)
    doc(v.OrganizationApplicationRoleDetailView.delete, status=204)
    doc(
        v.ApplicationOrganizationsView.get, response=OrganizationWithRolesOut.__class__(**many), parameters=[*page, *_Q]
    )
    doc(
        r.OrganizationRoleListView.get,
        response=OrganizationRoleWithScopesOut.__class__(**many),
        parameters=[*page, *_Q],
    )
    doc(
        r.OrganizationRoleListView.post,
        request=o.OrganizationRoleCreateSerializer,
        response=OrganizationRoleOut,
        status=201,
    )
    doc(r.OrganizationRoleDetailView.get, response=OrganizationRoleOut)
    doc(r.OrganizationRoleDetailView.patch, request=o.OrganizationRoleUpdateSerializer, response=OrganizationRoleOut)
    doc(r.OrganizationRoleDetailView.delete, status=204)
    for view, detail, request, out in (
        (
            r.OrganizationRoleScopesView,
            r.OrganizationRoleScopeDetailView,
            o.OrganizationScopeIdsSerializer,
            OrganizationScopeOut,
        ),
        (
            r.OrganizationRoleResourceScopesView,
            r.OrganizationRoleResourceScopeDetailView,
            o.ScopeIdsSerializer,
            scope_out,
        ),
    ):
        doc(view.get, response=out.__class__(**many), parameters=page)
        doc(view.post, request=request, status=201)
        doc(view.put, request=request, status=204)
        doc(detail.delete, status=204)
    doc(r.OrganizationScopeListView.get, response=OrganizationScopeOut.__class__(**many), parameters=[*page, *_Q])
    doc(
        r.OrganizationScopeListView.post,
        request=o.OrganizationScopeSerializer,
        response=OrganizationScopeOut,
        status=201,
    )
    doc(r.OrganizationScopeDetailView.get, response=OrganizationScopeOut)
    doc(r.OrganizationScopeDetailView.patch, request=o.OrganizationScopeUpdateSerializer, response=OrganizationScopeOut)
    doc(r.OrganizationScopeDetailView.delete, status=204)
