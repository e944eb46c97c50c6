"""The benchmark's URLs: the views it compares next to each other, so that URL resolution costs them alike."""

from django.urls import include, path
from oauth2_provider.views import TokenView as DOTTokenView

from bench import views

urlpatterns = [
    path("bare", views.BareView.as_view()),
    path("m2m/products", views.M2MProductsView.as_view()),
    path("bare/refuse", views.BareRefusalView.as_view()),
    path("dot/products", views.DOTProductsView.as_view()),
    path("sjwt/products", views.SimpleJWTProductsView.as_view()),
    path("m2m/scoped", views.M2MScopedView.as_view()),
    path("", include("logto_m2m_django.urls")),
    path("dot/token", DOTTokenView.as_view()),
]
