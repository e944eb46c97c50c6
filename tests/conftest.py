"""Shared fixtures: the shopping example, token helpers, and which backends the run uses."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from logto_m2m_django.keys import key_store
from logto_m2m_django.models import M2MApplication, Resource, Role, Scope
from logto_m2m_django.provisioning import create_application

SHOP = "https://shopping.api"
FORM = "application/x-www-form-urlencoded"


def pytest_report_header(config: Any) -> list[str]:
    db = "PostgreSQL (DATABASE_URL)" if os.environ.get("DATABASE_URL") else "SQLite in memory (DATABASE_URL unset)"
    cache = "Redis (REDIS_URL)" if os.environ.get("REDIS_URL") else "local memory (REDIS_URL unset)"
    lines = [f"logto-m2m-django: database {db}; cache {cache}"]
    if not os.environ.get("DATABASE_URL"):
        lines.append("logto-m2m-django: tests marked 'postgres' are skipped")
    if not os.environ.get("REDIS_URL"):
        lines.append("logto-m2m-django: tests marked 'redis' are skipped")
    return lines


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL")
    for item in items:
        if "postgres" in item.keywords and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not os.environ.get("REDIS_URL"):
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _fresh_key_cache() -> Any:
    """Each test sees the key table of its own transaction, not a previous test's keys, clients or grants (nor
    their notices: the change counter is rolled back with each test, the cache entry and the version last seen
    are not)."""
    from django.core.cache import caches

    from logto_m2m_django import changes, grant_cache
    from logto_m2m_django.drf import validation

    def forget() -> None:
        key_store.invalidate()
        grant_cache.grant_cache.reset()
        changes.reset_watchers()
        validation._validator = None
        with contextlib.suppress(Exception):  # a test that configured an unreachable cache
            caches["default"].delete_many([changes.cache_key("keys"), changes.cache_key(grant_cache.CHANNEL)])

    forget()
    yield
    forget()


class FakeClock:
    """A monotonic clock moved by the test (``changes.clock``, ``sharedcache.clock``, ``keys.time``...)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def closed_breaker() -> Any:
    """The shared cache's circuit breaker closed before and after the test."""
    from logto_m2m_django._internal import sharedcache

    sharedcache.breaker.reset()
    yield
    sharedcache.breaker.reset()


def cold_grant_cache() -> None:
    """Empty this process's grant cache after it has taken its first look at the change notices (a read
    made once per KEY_CHANGE_CHECK_SECONDS): the next token request reads the database, and a test that
    counts its queries counts only the request's own."""
    from logto_m2m_django.grant_cache import grant_cache

    grant_cache.start()
    grant_cache.invalidate()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@dataclass
class Shop:
    resource: Resource
    read: Scope
    write: Scope
    role: Role
    app: M2MApplication
    secret: str

    @property
    def client_id(self) -> str:
        return self.app.client_id

    def basic(self, client_id: str | None = None, secret: str | None = None) -> str:
        raw = f"{client_id or self.client_id}:{secret or self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@pytest.fixture
def shop(db: Any) -> Shop:
    """Logto's quick-start example: https://shopping.api, a reader role, and an app holding it."""
    resource = Resource.objects.create(name="Online shopping", indicator=SHOP)
    read = Scope.objects.create(resource=resource, name="read:products", description="Read products")
    write = Scope.objects.create(resource=resource, name="write:products", description="Write products")
    role = Role.objects.create(name="Shop reader", description="Reads products")
    role.scopes.add(read)
    app, secret = create_application("Order stats", roles=[role])
    return Shop(resource, read, write, role, app, secret)


@pytest.fixture
def request_token(api_client: APIClient) -> Callable[..., Any]:
    """POST /oidc/token with client_secret_basic; returns the response."""

    def _request(shop: Shop, **data: str) -> Any:
        body = {"grant_type": "client_credentials", "resource": SHOP, **data}
        return api_client.post("/oidc/token", urlencode(body), content_type=FORM, HTTP_AUTHORIZATION=shop.basic())

    return _request


@pytest.fixture
def access_token(shop: Shop, request_token: Callable[..., Any]) -> str:
    response = request_token(shop, scope="read:products write:products")
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])
