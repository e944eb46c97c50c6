"""Settings of the benchmark: the example project's, with DEBUG off and everything else from the environment.

Every measured view (this package's, django-oauth-toolkit's, simplejwt's and the bare floors) runs under
these settings, in-process and under gunicorn alike: same database, middleware, ``CONN_MAX_AGE`` and cache.

BENCH_DATABASE_URL  the database (set by ``python -m bench``)
BENCH_CACHE         "locmem" (the example project's default) or "redis"
BENCH_REDIS_URL     Redis for BENCH_CACHE=redis
BENCH_ALG           signing algorithm of this package's tokens (ES384 by default)
BENCH_WORKDIR       where ``python -m bench.setup`` left the public key simplejwt verifies with
BENCH_ACTIVITY_LOG  "0" to switch the token activity log off
BENCH_PG_PREPARE    "0" to run PostgreSQL without psycopg's prepared statements (as behind PgBouncer < 1.21);
                    by default the database options are the example project's, as shipped
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from example_project.database import tune
from example_project.settings import *  # noqa: F403
from example_project.settings import BASE_DIR
from logto_m2m_django.conf import DEFAULTS as _M2M_DEFAULTS

DEBUG = False
SECRET_KEY = "bench-secret-key-not-for-production-0123456789abcdefghijklmnop"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "bench.urls"
WSGI_APPLICATION = "bench.wsgi.application"

CONN_MAX_AGE = 60
if os.environ.get("BENCH_PG_PREPARE") == "0":
    os.environ["DATABASE_PREPARED_STATEMENTS"] = "0"
# The example project's database options, as shipped (SQLite: WAL, synchronous=NORMAL; PostgreSQL:
# prepared statements): the default configuration is what the targets are about.
DATABASES = {
    "default": tune(
        dj_database_url.parse(
            os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{BASE_DIR / 'bench' / 'results' / 'bench.sqlite3'}"),
            conn_max_age=CONN_MAX_AGE,
        )
    )
}

if os.environ.get("BENCH_CACHE") == "redis":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6"),
            "KEY_PREFIX": f"logto-m2m-bench-{os.getpid()}",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

ALGORITHM = os.environ.get("BENCH_ALG", "ES384")
ISSUER = "http://127.0.0.1/oidc"
AUDIENCE = "https://shopping.api"

LOGTO_M2M: dict[str, object] = {"ISSUER": ISSUER, "SIGNING_ALGORITHM": ALGORITHM}
if "THROTTLE_RATES" in _M2M_DEFAULTS:
    # Throttling stays on (its cost is measured) with limits the benchmark never reaches.
    LOGTO_M2M["THROTTLE_RATES"] = {kind: "1000000000/hour" for kind in ("client", "ip", "failed")}
if "TOKEN_ACTIVITY_LOG" in _M2M_DEFAULTS:
    LOGTO_M2M["TOKEN_ACTIVITY_LOG"] = os.environ.get("BENCH_ACTIVITY_LOG", "1") != "0"


def _public_pem() -> str:
    workdir = os.environ.get("BENCH_WORKDIR")
    path = Path(workdir) / f"public-{ALGORITHM}.pem" if workdir else None
    if path is not None and path.exists():
        return path.read_text()
    return ""


_PEM = _public_pem()
SIMPLE_JWT = {
    # simplejwt verifies the very tokens this package's endpoint issues, with the same public key.
    "ALGORITHM": ALGORITHM,
    "SIGNING_KEY": _PEM,
    "VERIFYING_KEY": _PEM,
    "AUDIENCE": AUDIENCE,
    "ISSUER": ISSUER,
    "LEEWAY": 30,
    "USER_ID_CLAIM": "sub",
    "TOKEN_TYPE_CLAIM": None,
    "JTI_CLAIM": "jti",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "level": "ERROR"}},
    "root": {"handlers": ["console"], "level": "ERROR"},
}
