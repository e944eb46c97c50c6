from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

from example_project.shop.organizations import OrganizationReportsView
from example_project.shop.views import ProductsView
from logto_m2m_django.management_api.docs import SwaggerUIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("logto_m2m_django.urls")),
    path("api/", include("logto_m2m_django.management_api.urls")),  # Logto-compatible Management API
    path("api/docs", SwaggerUIView.as_view(), name="api-docs"),  # Swagger UI: paste an app ID and secret
    path("products", ProductsView.as_view(), name="products"),
    path("orgs/<str:organization_id>/reports", OrganizationReportsView.as_view(), name="organization-reports"),
]

# The admin's CSS and JS under gunicorn too (staticfiles serves them only when DEBUG is on).
urlpatterns += staticfiles_urlpatterns()
