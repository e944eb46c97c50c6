"""Test settings: SQLite and local memory unless DATABASE_URL / REDIS_URL are set."""

from __future__ import annotations

import os

import dj_database_url

from example_project.settings import *  # noqa: F403

SECRET_KEY = "tests-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=0)}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"logto-m2m-tests-{os.getpid()}",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGTO_M2M = {
    "ISSUER": "https://auth.example.com/oidc",
    # Throttle counters would outlive each test (the whole suite calls from 127.0.0.1);
    # tests/security/test_throttling.py turns throttling on with counters of its own.
    "THROTTLE_RATES": None,  # type: ignore[dict-item]
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
# The suite runs in one process: a per-process throttle cache is right here (logto_m2m.W050).
SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "logto_m2m.W050"]  # noqa: F405
