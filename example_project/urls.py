from django.contrib import admin
from django.urls import include, path

from example_project.shop.views import ProductsView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("logto_m2m_django.urls")),
    path("products", ProductsView.as_view(), name="products"),
]
