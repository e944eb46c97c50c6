"""Settings of the example resource server: an API that lives apart from the issuer.

It knows only the issuer URL and fetches the signing keys from the issuer's
JWKS (found through ``{issuer}/.well-known/openid-configuration``). It has no
database: ``logto_m2m_django`` (models, token endpoint) is not installed, only
the resource-server toolkit ``logto_m2m_django.drf``.

LOGTO_M2M_ISSUER   the issuer, e.g. https://auth.example.com/oidc or https://<tenant>.logto.app/oidc
DJANGO_SECRET_KEY, DJANGO_DEBUG, DJANGO_ALLOWED_HOSTS
"""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-resource-server-insecure-key-change-me-0123456789")
DEBUG = os.environ.get("DJANGO_DEBUG", "1").lower() in ("1", "true", "yes", "on")
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "rest_framework",
    # The resource-server toolkit alone: its system checks, no models.
    "logto_m2m_django.drf",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "example_resource_server.urls"
WSGI_APPLICATION = "example_resource_server.wsgi.application"

# No database at all: a valid request must not need one.
DATABASES: dict[str, dict[str, str]] = {}

LOGTO_M2M = {
    # Remote mode (the default where logto_m2m_django is not installed): keys from {ISSUER}'s JWKS.
    "ISSUER": os.environ.get("LOGTO_M2M_ISSUER", "http://127.0.0.1:8000/oidc"),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["logto_m2m_django.drf.JWTAccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["logto_m2m_django.drf.RequiredScopes"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "logto_m2m_django.drf.exception_handler",
    # django.contrib.auth is not installed: no AnonymousUser for requests without a token.
    "UNAUTHENTICATED_USER": None,
}

USE_TZ = True
TIME_ZONE = "UTC"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"logto_m2m_django": {"handlers": ["console"], "level": "INFO"}},
}
