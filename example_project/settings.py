"""Settings of the example project, from the environment.

LOGTO_M2M_ISSUER   issuer URL (default http://127.0.0.1:8000/oidc)
DATABASE_URL       e.g. postgres://user@127.0.0.1:5432/db (default: SQLite file db.sqlite3)
DATABASE_PREPARED_STATEMENTS   0 to turn psycopg's server-side prepared statements off (PgBouncer < 1.21)
REDIS_URL          cache (default: local memory)
DJANGO_SECRET_KEY, DJANGO_DEBUG, DJANGO_ALLOWED_HOSTS
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from example_project.database import tune
from logto_m2m_django.dot_settings import SILENCED_DOT_CHECKS

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-insecure-key-change-me-0123456789")
DEBUG = os.environ.get("DJANGO_DEBUG", "1").lower() in ("1", "true", "yes", "on")
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "oauth2_provider",
    "logto_m2m_django",
    "drf_spectacular_sidecar",  # Swagger UI's files for /api/docs, served offline
    "example_project.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# SQLite in WAL mode without a flush per commit; PostgreSQL with server-side prepared statements
# (DATABASE_PREPARED_STATEMENTS=0 behind PgBouncer < 1.21): see example_project/database.py.
DATABASES = {
    "default": tune(
        dj_database_url.config(
            default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60"))
        )
    )
}

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            # Short timeouts: a Redis that is down or hangs costs a token request at most one of them,
            # once per process per retry period (logto_m2m_django._internal.sharedcache); without them
            # redis-py waits forever on a Redis that accepts connections and never answers.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # Client secrets: a fast keyed hash (never first in this list).
    "logto_m2m_django.secrets.HMACSecretHasher",
]

OAUTH2_PROVIDER = {"CLIENT_SECRET_HASHER": "logto_m2m_hmac_sha256"}
# django-oauth-toolkit's deploy warnings about endpoints this project does not route
# (see logto_m2m_django/dot_settings.py for each reason).
SILENCED_SYSTEM_CHECKS = [*SILENCED_DOT_CHECKS]

LOGTO_M2M = {
    "ISSUER": os.environ.get("LOGTO_M2M_ISSUER", "http://127.0.0.1:8000/oidc"),
    # Each app's tenant and plan (its customData) in its tokens: see example_project/shop/claims.py.
    "CUSTOM_CLAIMS": "example_project.shop.claims.token_claims",
    "CUSTOM_CLAIMS_ENVIRONMENT": {"DEPLOYMENT": os.environ.get("DEPLOYMENT", "")},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["logto_m2m_django.drf.JWTAccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["logto_m2m_django.drf.RequiredScopes"],
    "EXCEPTION_HANDLER": "logto_m2m_django.drf.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"logto_m2m_django": {"handlers": ["console"], "level": "INFO"}},
}
