"""URLs of the authorization server. Include at the site root:

    path("", include("logto_m2m_django.urls"))

so that the issuer ``https://<host>/oidc`` serves ``/oidc/token``,
``/oidc/jwks`` and ``/oidc/.well-known/openid-configuration``.
"""

from django.urls import path

from .oauth import views

app_name = "logto_m2m"

urlpatterns = [
    path("oidc/token", views.token_view, name="token"),
    path("oidc/jwks", views.jwks_view, name="jwks"),
    path("oidc/.well-known/openid-configuration", views.metadata_view, name="openid-configuration"),
    path(".well-known/oauth-authorization-server/oidc", views.metadata_view, name="oauth-authorization-server"),
]
