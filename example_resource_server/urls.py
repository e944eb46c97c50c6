from django.urls import path

from example_resource_server.views import OrganizationReportView, ProductsView

urlpatterns = [
    path("products", ProductsView.as_view(), name="products"),
    path("organizations/<str:organization_id>/report", OrganizationReportView.as_view(), name="organization-report"),
]
