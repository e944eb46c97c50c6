"""URLs of the Management API. Include them under ``api/``::

    path("api/", include("logto_m2m_django.management_api.urls"))

The paths are Logto's, without trailing slashes: ``/api/applications``, ``/api/resources``, ``/api/roles``.
"""

from django.urls import path, re_path

from .errors import route_not_found
from .schema import SchemaView
from .views import applications as apps
from .views import logs, resources, roles
from .views import organization_roles as org_roles
from .views import organizations as orgs
from .views import signing_keys as keys

app_name = "logto_m2m_management"

#: The API itself (what the OpenAPI document describes).
api_urlpatterns = [
    path("applications", apps.ApplicationListView.as_view(), name="applications"),
    path("applications/<str:application_id>", apps.ApplicationDetailView.as_view(), name="application"),
    path("applications/<str:application_id>/roles", apps.ApplicationRolesView.as_view(), name="application-roles"),
    path(
        "applications/<str:application_id>/roles/<str:role_id>",
        apps.ApplicationRoleDetailView.as_view(),
        name="application-role",
    ),
    path(
        "applications/<str:application_id>/secrets",
        apps.ApplicationSecretsView.as_view(),
        name="application-secrets",
    ),
    # A secret name may hold any character, "/" and line breaks included.
    re_path(
        r"^applications/(?P<application_id>[^/]+)/secrets/(?P<name>[\s\S]+)\Z",
        apps.ApplicationSecretDetailView.as_view(),
        name="application-secret",
    ),
    path(
        "applications/<str:application_id>/custom-data",
        apps.ApplicationCustomDataView.as_view(),
        name="application-custom-data",
    ),
    path(
        "applications/<str:application_id>/legacy-secret",
        apps.LegacySecretView.as_view(),
        name="application-legacy-secret",
    ),
    path("resources", resources.ResourceListView.as_view(), name="resources"),
    path("resources/<str:resource_id>", resources.ResourceDetailView.as_view(), name="resource"),
    path("resources/<str:resource_id>/is-default", resources.ResourceDefaultView.as_view(), name="resource-default"),
    path("resources/<str:resource_id>/scopes", resources.ScopeListView.as_view(), name="scopes"),
    path("resources/<str:resource_id>/scopes/<str:scope_id>", resources.ScopeDetailView.as_view(), name="scope"),
    path("roles", roles.RoleListView.as_view(), name="roles"),
    path("roles/<str:role_id>", roles.RoleDetailView.as_view(), name="role"),
    path("roles/<str:role_id>/scopes", roles.RoleScopesView.as_view(), name="role-scopes"),
    path("roles/<str:role_id>/scopes/<str:scope_id>", roles.RoleScopeDetailView.as_view(), name="role-scope"),
    path("roles/<str:role_id>/applications", roles.RoleApplicationsView.as_view(), name="role-applications"),
    path(
        "roles/<str:role_id>/applications/<str:application_id>",
        roles.RoleApplicationDetailView.as_view(),
        name="role-application",
    ),
    path("logs", logs.LogListView.as_view(), name="logs"),
    path("logs/<str:log_id>", logs.LogDetailView.as_view(), name="log"),
    path("configs/oidc/private-keys", keys.PrivateKeyListView.as_view(), name="private-keys"),
    path("configs/oidc/private-keys/rotate", keys.PrivateKeyRotateView.as_view(), name="private-keys-rotate"),
    path("configs/oidc/private-keys/<str:key_id>", keys.PrivateKeyDetailView.as_view(), name="private-key"),
]

#: Organizations (Logto's routes/organization, organization-role, organization-scope).
api_urlpatterns += [
    path(
        "applications/<str:application_id>/organizations",
        orgs.ApplicationOrganizationsView.as_view(),
        name="application-organizations",
    ),
    path("organizations", orgs.OrganizationListView.as_view(), name="organizations"),
    path("organizations/<str:organization_id>", orgs.OrganizationDetailView.as_view(), name="organization"),
    path(
        "organizations/<str:organization_id>/applications",
        orgs.OrganizationApplicationsView.as_view(),
        name="organization-applications",
    ),
    path(
        "organizations/<str:organization_id>/applications/roles",
        orgs.OrganizationApplicationsRolesView.as_view(),
        name="organization-applications-roles",
    ),
    path(
        "organizations/<str:organization_id>/applications/<str:application_id>",
        orgs.OrganizationApplicationDetailView.as_view(),
        name="organization-application",
    ),
    path(
        "organizations/<str:organization_id>/applications/<str:application_id>/roles",
        orgs.OrganizationApplicationRolesView.as_view(),
        name="organization-application-roles",
    ),
    path(
        "organizations/<str:organization_id>/applications/<str:application_id>/roles/<str:role_id>",
        orgs.OrganizationApplicationRoleDetailView.as_view(),
        name="organization-application-role",
    ),
    path("organization-roles", org_roles.OrganizationRoleListView.as_view(), name="organization-roles"),
    path("organization-roles/<str:role_id>", org_roles.OrganizationRoleDetailView.as_view(), name="organization-role"),
    path(
        "organization-roles/<str:role_id>/scopes",
        org_roles.OrganizationRoleScopesView.as_view(),
        name="organization-role-scopes",
    ),
    path(
        "organization-roles/<str:role_id>/scopes/<str:scope_id>",
        org_roles.OrganizationRoleScopeDetailView.as_view(),
        name="organization-role-scope",
    ),
    path(
        "organization-roles/<str:role_id>/resource-scopes",
        org_roles.OrganizationRoleResourceScopesView.as_view(),
        name="organization-role-resource-scopes",
    ),
    path(
        "organization-roles/<str:role_id>/resource-scopes/<str:scope_id>",
        org_roles.OrganizationRoleResourceScopeDetailView.as_view(),
        name="organization-role-resource-scope",
    ),
    path("organization-scopes", org_roles.OrganizationScopeListView.as_view(), name="organization-scopes"),
    path(
        "organization-scopes/<str:scope_id>",
        org_roles.OrganizationScopeDetailView.as_view(),
        name="organization-scope",
    ),
]

urlpatterns = [
    path("openapi.json", SchemaView.as_view(), name="schema"),
    *api_urlpatterns,
    # Any other path under the API's root or its collections: Logto's JSON 404, not the project's HTML page.
    # Paths outside them (e.g. a project's own /api/docs) stay the project's.
    re_path(
        r"^(?:(?:applications|resources|roles|organizations|organization-roles|organization-scopes|configs)"
        r"(?:/[\s\S]*)?)?\Z",
        route_not_found,
        name="not-found",
    ),
]
