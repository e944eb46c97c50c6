"""URLs of the Management API. Include them under ``api/``::

    path("api/", include("logto_m2m_django.management_api.urls"))

The paths are Logto's, without trailing slashes: ``/api/applications``, ``/api/resources``, ``/api/roles``.
"""

from django.urls import path, re_path

from .schema import SchemaView
from .views import applications as apps
from .views import logs, resources, roles

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
]

urlpatterns = [path("openapi.json", SchemaView.as_view(), name="schema"), *api_urlpatterns]
