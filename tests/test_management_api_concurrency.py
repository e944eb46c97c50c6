"""Concurrent creates of one name or indicator on PostgreSQL: one row and 422s, never a 500."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from rest_framework.test import APIClient

from logto_m2m_django.management_api.builtin import ensure_management_role
from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.models import Resource, Role, Scope

pytestmark = pytest.mark.postgres
THREADS = 6


@pytest.fixture
def token(transactional_db: Any) -> str:
    app, secret = create_m2m_application("Concurrent admin", roles=[ensure_management_role()])
    basic = "Basic " + base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
    body = urlencode({"grant_type": "client_credentials", "resource": "https://default.logto.app/api", "scope": "all"})
    response = APIClient().post(
        "/oidc/token", body, content_type="application/x-www-form-urlencoded", HTTP_AUTHORIZATION=basic
    )
    assert response.status_code == HTTPStatus.OK, response.content
    return str(response.json()["access_token"])


def _race(token: str, url: str, body: dict[str, Any]) -> list[int]:
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            barrier.wait(timeout=30)
            status = client.post(url, body, format="json").status_code
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(statuses)


def _check(statuses: list[int], created: int, count: Callable[[], int]) -> None:
    assert len(statuses) == THREADS
    assert statuses.count(created) == 1, statuses
    assert statuses.count(HTTPStatus.UNPROCESSABLE_ENTITY) == THREADS - 1, statuses
    assert count() == 1


def test_parallel_resources_with_one_indicator(token: str) -> None:
    statuses = _race(token, "/api/resources", {"name": "Shop", "indicator": "https://race.api"})
    _check(statuses, HTTPStatus.CREATED, lambda: Resource.objects.filter(indicator="https://race.api").count())


def test_parallel_roles_with_one_name(token: str) -> None:
    statuses = _race(token, "/api/roles", {"name": "Racer", "description": "d", "type": "MachineToMachine"})
    _check(statuses, HTTPStatus.OK, lambda: Role.objects.filter(name="Racer").count())


def test_parallel_scopes_with_one_name(token: str) -> None:
    resource = Resource.objects.create(name="Shop", indicator="https://scoped.api")
    statuses = _race(token, f"/api/resources/{resource.id}/scopes", {"name": "read"})
    _check(statuses, HTTPStatus.CREATED, lambda: Scope.objects.filter(resource=resource, name="read").count())
