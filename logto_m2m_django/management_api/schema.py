"""The OpenAPI 3 document of the Management API and the token endpoint (drf-spectacular), served at
``/api/openapi.json``, with the OAuth 2.0 client-credentials flow as its security scheme.

The views stay free of documentation: this module attaches it (``extend_schema`` on their methods) and
describes the response shapes with serializers used for the schema only.
"""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from ..conf import m2m_settings
from . import serializers as s
from .builtin import BUILTIN_SCOPES, MANAGEMENT_SCOPE
from .organization_schema import document_views as document_organization_views
from .signing_key_schema import document_views as document_signing_key_views
from .tags import TOKEN_TAG, TaggedAutoSchema, declared_tags

SECURITY_SCHEME = "clientCredentials"


def token_url() -> str:
    return f"{m2m_settings.ISSUER or ''}/token"


class ManagementAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents ``JWTAccessTokenAuthentication`` as OAuth 2.0 client credentials against our issuer."""

    target_class = "logto_m2m_django.drf.authentication.JWTAccessTokenAuthentication"
    match_subclasses = True  # the Management API's own ManagementTokenAuthentication
    name = SECURITY_SCHEME

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "oauth2",
            "description": (
                "An access token from the token endpoint with grant_type=client_credentials, "
                f"resource={m2m_settings.MANAGEMENT_API_INDICATOR} and scope=all (or the operation's own scope)."
            ),
            "flows": {"clientCredentials": {"tokenUrl": token_url(), "scopes": dict(BUILTIN_SCOPES)}},
        }

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[str]]]:
        """Either ``all`` or the scope the view declares for this method (alternatives, OpenAPI 3 §4.8.30)."""
        alternatives = [{SECURITY_SCHEME: [MANAGEMENT_SCOPE]}]
        by_method = getattr(auto_schema.view, "required_scopes_by_method", None) or {}
        scopes = [scope for scope in by_method.get(auto_schema.method.upper(), ()) if scope != MANAGEMENT_SCOPE]
        if scopes:
            alternatives.insert(0, {SECURITY_SCHEME: list(scopes)})
        return alternatives


# -- response shapes (schema only) ---------------------------------------------

_TS = serializers.IntegerField(help_text="Epoch milliseconds")


def _shape(name: str, fields: dict[str, serializers.Field]) -> Any:
    return inline_serializer(name=name, fields=fields)


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(**kwargs)


ScopeOut = _shape(
    "Scope",
    {
        "tenantId": _text(),
        "id": _text(),
        "resourceId": _text(),
        "name": _text(),
        "description": _text(allow_null=True),
        "createdAt": serializers.IntegerField(help_text="Epoch milliseconds"),
    },
)
_resource_fields: dict[str, serializers.Field] = {
    "tenantId": _text(),
    "id": _text(),
    "name": _text(),
    "indicator": _text(),
    "isDefault": serializers.BooleanField(),
    "accessTokenTtl": serializers.IntegerField(help_text="Seconds"),
}
ResourceOut = _shape("Resource", _resource_fields)
ResourceWithScopesOut = _shape(
    "ResourceWithScopes", {**_resource_fields, "scopes": serializers.ListField(child=serializers.DictField())}
)
ScopeWithResourceOut = _shape(
    "ScopeWithResource",
    {
        "tenantId": _text(),
        "id": _text(),
        "resourceId": _text(),
        "name": _text(),
        "description": _text(allow_null=True),
        "createdAt": serializers.IntegerField(help_text="Epoch milliseconds"),
        "resource": serializers.DictField(),
    },
)
_app_fields: dict[str, serializers.Field] = {
    "tenantId": _text(),
    "id": _text(),
    "name": _text(),
    "description": _text(allow_null=True),
    "type": _text(help_text="Always MachineToMachine here"),
    "oidcClientMetadata": serializers.DictField(),
    "customClientMetadata": serializers.DictField(),
    "protectedAppMetadata": serializers.DictField(allow_null=True),
    "customData": serializers.DictField(),
    "isThirdParty": serializers.BooleanField(),
    "appLevelAccessControlEnabled": serializers.BooleanField(),
    "createdAt": serializers.IntegerField(help_text="Epoch milliseconds"),
}
ApplicationOut = _shape("Application", _app_fields)
CreatedApplicationOut = _shape(
    "CreatedApplication", {**_app_fields, "secret": _text(help_text="The default secret; shown only here.")}
)
ApplicationWithAdminOut = _shape("ApplicationWithIsAdmin", {**_app_fields, "isAdmin": serializers.BooleanField()})
_secret_fields: dict[str, serializers.Field] = {
    "tenantId": _text(),
    "applicationId": _text(),
    "name": _text(),
    "createdAt": serializers.IntegerField(help_text="Epoch milliseconds"),
    "expiresAt": serializers.IntegerField(allow_null=True, help_text="Epoch milliseconds"),
}
SecretOut = _shape("ApplicationSecret", _secret_fields)
CreatedSecretOut = _shape("CreatedApplicationSecret", {**_secret_fields, "value": _text(help_text="Shown only here.")})
_role_fields: dict[str, serializers.Field] = {
    "tenantId": _text(),
    "id": _text(),
    "name": _text(),
    "description": _text(),
    "type": serializers.ChoiceField(choices=list(s.ROLE_TYPES)),
    "isDefault": serializers.BooleanField(),
}
RoleOut = _shape("Role", _role_fields)
ListedRoleOut = _shape(
    "RoleWithCounts",
    {
        **_role_fields,
        "usersCount": serializers.IntegerField(),
        "featuredUsers": serializers.ListField(child=serializers.DictField()),
        "applicationsCount": serializers.IntegerField(),
        "featuredApplications": serializers.ListField(child=serializers.DictField()),
    },
)
RoleIdsOut = _shape(
    "AddedRoles",
    {"roleIds": serializers.ListField(child=_text()), "addedRoleIds": serializers.ListField(child=_text())},
)
LogOut = _shape(
    "Log",
    {
        "tenantId": _text(),
        "id": _text(),
        "key": _text(help_text="ExchangeTokenBy.ClientCredentials"),
        "payload": serializers.DictField(
            help_text="key, result (Success|Error), error?, ip?, userAgent?, applicationId?, "
            "applicationSecret? {name}, params {resource?, scope?}, scope? (granted), tokenTypes?"
        ),
        "createdAt": serializers.IntegerField(help_text="Epoch milliseconds"),
    },
)
ErrorOut = _shape(
    "Error", {"code": _text(), "message": _text(), "details": _text(required=False), "data": serializers.JSONField()}
)

_PAGE = [
    OpenApiParameter("page", OpenApiTypes.INT, description="From 1"),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="1-100, default 20"),
]
_SEARCH = [
    OpenApiParameter("search", OpenApiTypes.STR, description="SQL LIKE pattern on id, name, description"),
    OpenApiParameter("mode", OpenApiTypes.STR, enum=["like", "exact"]),
    OpenApiParameter("joint", OpenApiTypes.STR, enum=["or", "and"]),
    OpenApiParameter("isCaseSensitive", OpenApiTypes.STR, enum=["true", "false"]),
]
_EMPTY = OpenApiResponse(description="No body (Content-Length: 0)")
_ERRORS = {status: ErrorOut for status in (400, 401, 403, 404, 422)}


def _doc(method: Any, *, request: Any = None, response: Any = None, status: int = 200, **kwargs: Any) -> None:
    responses = {**_ERRORS, status: response if response is not None else _EMPTY}
    # extend_schema builds on the function's own schema class: drf-spectacular's (with the tags by
    # path of .tags), whatever REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] says.
    method.schema = TaggedAutoSchema
    extend_schema(request=request, responses=responses, **kwargs)(method)


def _document_views() -> None:
    from .views import applications as a
    from .views import logs as g
    from .views import resources as r
    from .views import roles as o

    many = {"many": True}
    _doc(
        a.ApplicationListView.get,
        response=ApplicationOut.__class__(**many),
        parameters=[
            *_PAGE,
            *_SEARCH,
            OpenApiParameter("types", OpenApiTypes.STR, many=True, enum=list(s.APPLICATION_TYPES)),
            OpenApiParameter("excludeRoleId", OpenApiTypes.STR),
            OpenApiParameter("isThirdParty", OpenApiTypes.STR, enum=["true", "false"]),
        ],
    )
    _doc(a.ApplicationListView.post, request=s.ApplicationCreateSerializer, response=CreatedApplicationOut)
    _doc(a.ApplicationDetailView.get, response=ApplicationWithAdminOut)
    _doc(a.ApplicationDetailView.patch, request=s.ApplicationUpdateSerializer, response=ApplicationOut)
    _doc(a.ApplicationDetailView.delete, status=204)
    _doc(a.ApplicationRolesView.get, response=RoleOut.__class__(**many), parameters=[*_PAGE, *_SEARCH])
    _doc(a.ApplicationRolesView.post, request=s.RoleIdsSerializer, response=RoleIdsOut, status=201)
    _doc(a.ApplicationRolesView.put, request=s.RoleIdsSerializer)
    _doc(a.ApplicationRoleDetailView.delete, status=204)
    _doc(a.ApplicationSecretsView.get, response=SecretOut.__class__(**many))
    _doc(a.ApplicationSecretsView.post, request=s.SecretCreateSerializer, response=CreatedSecretOut, status=201)
    _doc(a.ApplicationSecretDetailView.patch, request=s.SecretRenameSerializer, response=SecretOut)
    _doc(a.ApplicationSecretDetailView.delete, status=204)
    _doc(a.LegacySecretView.delete, response=ApplicationOut)
    _doc(
        a.ApplicationCustomDataView.patch,
        request=OpenApiTypes.OBJECT,
        response=OpenApiTypes.OBJECT,
        summary="Update application custom data",
        description="Merges the body's top-level keys into the application's customData; answers the result.",
    )
    _doc(
        r.ResourceListView.get,
        response=ResourceWithScopesOut.__class__(**many),
        parameters=[*_PAGE, OpenApiParameter("includeScopes", OpenApiTypes.STR, enum=["true", "false"])],
    )
    _doc(r.ResourceListView.post, request=s.ResourceCreateSerializer, response=ResourceWithScopesOut, status=201)
    _doc(r.ResourceDetailView.get, response=ResourceOut)
    _doc(r.ResourceDetailView.patch, request=s.ResourceUpdateSerializer, response=ResourceOut)
    _doc(r.ResourceDetailView.delete, status=204)
    _doc(r.ResourceDefaultView.patch, request=s.IsDefaultSerializer, response=ResourceOut)
    _doc(r.ScopeListView.get, response=ScopeOut.__class__(**many), parameters=[*_PAGE, *_SEARCH])
    _doc(r.ScopeListView.post, request=s.ScopeCreateSerializer, response=ScopeOut, status=201)
    _doc(r.ScopeDetailView.patch, request=s.ScopeUpdateSerializer, response=ScopeOut)
    _doc(r.ScopeDetailView.delete, status=204)
    _doc(
        o.RoleListView.get,
        response=ListedRoleOut.__class__(**many),
        parameters=[
            *_PAGE,
            *_SEARCH,
            OpenApiParameter("type", OpenApiTypes.STR, enum=list(s.ROLE_TYPES)),
            OpenApiParameter("excludeApplicationId", OpenApiTypes.STR),
        ],
    )
    _doc(o.RoleListView.post, request=s.RoleCreateSerializer, response=RoleOut)
    _doc(o.RoleDetailView.get, response=RoleOut)
    _doc(o.RoleDetailView.patch, request=s.RoleUpdateSerializer, response=RoleOut)
    _doc(o.RoleDetailView.delete, status=204)
    _doc(o.RoleScopesView.get, response=ScopeWithResourceOut.__class__(**many), parameters=[*_PAGE, *_SEARCH])
    _doc(o.RoleScopesView.post, request=s.ScopeIdsSerializer, response=ScopeOut.__class__(**many), status=201)
    _doc(o.RoleScopeDetailView.delete, status=204)
    _doc(o.RoleApplicationsView.get, response=ApplicationOut.__class__(**many), parameters=[*_PAGE, *_SEARCH])
    _doc(o.RoleApplicationsView.post, request=s.ApplicationIdsSerializer, status=201)
    _doc(o.RoleApplicationDetailView.delete, status=204)
    _doc(
        g.LogListView.get,
        response=LogOut.__class__(**many),
        summary="Get logs",
        description="Token requests (key ExchangeTokenBy.ClientCredentials), newest first; always paginated.",
        parameters=[
            *_PAGE,
            OpenApiParameter("applicationId", OpenApiTypes.STR),
            OpenApiParameter("logKey", OpenApiTypes.STR),
            OpenApiParameter("userId", OpenApiTypes.STR, description="Accepted; M2M token requests have no user."),
            OpenApiParameter("start_time", OpenApiTypes.NUMBER, description="Epoch milliseconds, inclusive"),
            OpenApiParameter("end_time", OpenApiTypes.NUMBER, description="Epoch milliseconds, inclusive"),
        ],
    )
    _doc(g.LogDetailView.get, response=LogOut, summary="Get log")


_document_views()
document_organization_views(_doc, _PAGE, _app_fields, ScopeOut)
document_signing_key_views(_doc)


# -- the token endpoint ----------------------------------------------------------


class TokenRequest(serializers.Serializer):
    grant_type = serializers.ChoiceField(choices=["client_credentials"])
    resource = serializers.CharField(required=False, help_text="The API indicator (RFC 8707)")
    scope = serializers.CharField(required=False, help_text="Space-separated scopes")
    organization_id = serializers.CharField(required=False, help_text="An organization the app is a member of")
    client_id = serializers.CharField(required=False, help_text="client_secret_post; or use HTTP Basic")
    client_secret = serializers.CharField(required=False)


TokenResponse = _shape(
    "TokenResponse",
    {
        "access_token": _text(),
        "token_type": _text(),
        "expires_in": serializers.IntegerField(),
        "scope": _text(required=False),
    },
)
OAuthError = _shape("OAuthError", {"error": _text(), "error_description": _text(required=False)})


class TokenViewSchema(OpenApiViewExtension):
    target_class = "logto_m2m_django.oauth.views.TokenView"

    def view_replacement(self) -> Any:
        @extend_schema(
            summary="Client-credentials token request (RFC 6749 §4.4)",
            request={"application/x-www-form-urlencoded": TokenRequest},
            responses={200: TokenResponse, 400: OAuthError, 401: OAuthError, 429: OAuthError},
            auth=[],
            tags=[TOKEN_TAG[0]],
        )
        class Documented(self.target):  # type: ignore[name-defined, misc]
            schema = AutoSchema()

        return Documented


class SchemaView(SpectacularJSONAPIView):
    """``GET /api/openapi.json``: readable without a token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @property
    def patterns(self) -> list[Any]:  # type: ignore[override]
        from ..oauth.views import TokenView
        from .urls import api_urlpatterns

        token_path = "oidc/token"
        issuer_path = (m2m_settings.ISSUER or "").split("://", 1)[-1].partition("/")[2]
        if issuer_path:
            token_path = f"{issuer_path.strip('/')}/token"
        return [
            path("api/", include((api_urlpatterns, "logto_m2m_management"))),
            path(token_path, TokenView.as_view()),
        ]

    @patterns.setter
    def patterns(self, value: Any) -> None:
        pass

    @property
    def custom_settings(self) -> dict[str, Any]:  # type: ignore[override]
        return {
            "TITLE": "Management API (Logto-compatible subset)",
            "DESCRIPTION": (
                "Applications (MachineToMachine), API resources, scopes, roles, organizations, token request "
                "logs and signing keys, with Logto's paths and JSON. Authorize with an app holding the `all` scope of "
                f"{m2m_settings.MANAGEMENT_API_INDICATOR}, or the scope each operation lists."
            ),
            "VERSION": "1",
            "TAGS": declared_tags(),
            "SCHEMA_PATH_PREFIX": "",
            "COMPONENT_SPLIT_REQUEST": True,
            "ENUM_NAME_OVERRIDES": {
                "ApplicationTypeEnum": list(s.APPLICATION_TYPES),
                "RoleTypeEnum": list(s.ROLE_TYPES),
            },
        }

    @custom_settings.setter
    def custom_settings(self, value: Any) -> None:
        pass
