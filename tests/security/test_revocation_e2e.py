"""Revocation reaches every process on the very next token request.

Two gunicorn servers of one deployment (one worker process each, so that the test knows which process
answers; same database, same cache: SQLite + local memory, or PostgreSQL + Redis when DATABASE_URL and
REDIS_URL are set). Each worker first serves the app successfully; then another process, the CLI
(``manage.py shell -c``) or the Management API, removes a role, deletes a named secret, disables the app or
deletes its legacy secret, and each worker refuses it:

* with Redis (a shared cache), on the very next request: each token request reads the change notice in the
  throttle's round trip, and the worker's grant cache is emptied before anything is served from it;
* with local memory only, once KEY_CHANGE_CHECK_SECONDS (1 s here) have passed: each worker reads the change
  counter from the database once per interval. The test waits that long and no longer.

Before each change the workers have served the app at least twice, so its client and grant are in their
grant caches (the path a revocation must get through).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
import requests

from tests.security.servers import Cluster, cluster

pytestmark = pytest.mark.e2e

SHOP = "https://shopping.api"
MGMT = "https://default.logto.app/api"
TIMEOUT = 15


CHECK_SECONDS = 1.0


@pytest.fixture(scope="module")
def deployment() -> Iterator[Cluster]:
    with cluster(instances=2, workers=1, label="revoke", key_change_check_seconds=CHECK_SECONDS) as servers:
        yield servers


def settle(servers: Cluster) -> None:
    """After a change: nothing with a shared cache (the next request sees it); the check interval without."""
    if not servers.env.get("REDIS_URL"):
        time.sleep(CHECK_SECONDS + 0.2)


def token(servers: Cluster, index: int, client_id: str, secret: str, resource: str = SHOP, scope: str = "") -> Any:
    data = {"grant_type": "client_credentials", "resource": resource, "scope": scope or "read:products"}
    # A new connection per request: nothing is kept between requests but what the process itself keeps.
    return requests.post(servers.url(index, "/oidc/token"), data=data, auth=(client_id, secret), timeout=TIMEOUT)


def every_worker(servers: Cluster, client_id: str, secret: str, **kwargs: str) -> list[Any]:
    return [token(servers, index, client_id, secret, **kwargs) for index in range(len(servers.ports))]


def warm(servers: Cluster, client_id: str, secret: str, **kwargs: str) -> list[Any]:
    """Twice to every worker: the second answer comes from its grant cache."""
    every_worker(servers, client_id, secret, **kwargs)
    return every_worker(servers, client_id, secret, **kwargs)


def cli(servers: Cluster, code: str) -> str:
    """Python run by ``manage.py shell -c`` in a process of its own (then the change is given time to arrive)."""
    prelude = (
        "from logto_m2m_django.models import M2MApplication, Role, ApplicationSecret\n"
        "from logto_m2m_django import provisioning\n"
    )
    out = servers.manage("shell", "-c", prelude + code)
    settle(servers)
    return out


APP = "app = M2MApplication.objects.get(application__client_id={client_id!r})\n"


def test_removing_a_role_takes_effect_in_every_worker(deployment: Cluster) -> None:
    client_id, secret = deployment.demo["client_id"], deployment.demo["client_secret"]
    for response in warm(deployment, client_id, secret):
        assert response.status_code == HTTPStatus.OK, deployment.log_tail()
        assert response.json()["scope"] == "read:products"
    cli(deployment, APP.format(client_id=client_id) + "app.roles.remove(Role.objects.get(name='Shop reader'))")
    for response in every_worker(deployment, client_id, secret):
        assert response.status_code == HTTPStatus.OK
        assert "scope" not in response.json()  # the role's scope is no longer granted
    cli(deployment, APP.format(client_id=client_id) + "app.roles.add(Role.objects.get(name='Shop reader'))")
    for response in every_worker(deployment, client_id, secret):
        assert response.json()["scope"] == "read:products"


def test_deleting_a_named_secret_takes_effect_in_every_worker(deployment: Cluster) -> None:
    client_id, default = deployment.demo["client_id"], deployment.demo["client_secret"]
    out = cli(deployment, APP.format(client_id=client_id) + "print(provisioning.add_secret(app, 'rotating')[1])")
    named = out.strip().splitlines()[-1]
    for response in warm(deployment, client_id, named):
        assert response.status_code == HTTPStatus.OK, deployment.log_tail()
    cli(deployment, "ApplicationSecret.objects.filter(name='rotating').delete()")
    for response in every_worker(deployment, client_id, named):
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json()["error"] == "invalid_client"
    for response in every_worker(deployment, client_id, default):
        assert response.status_code == HTTPStatus.OK


def test_disabling_the_app_takes_effect_in_every_worker(deployment: Cluster) -> None:
    client_id, secret = deployment.demo["client_id"], deployment.demo["client_secret"]
    for response in warm(deployment, client_id, secret):
        assert response.status_code == HTTPStatus.OK
    cli(deployment, APP.format(client_id=client_id) + "app.is_enabled = False\napp.save()")
    try:
        for response in every_worker(deployment, client_id, secret):
            assert response.status_code == HTTPStatus.BAD_REQUEST
            assert response.json()["error"] == "unauthorized_client"
    finally:
        cli(deployment, APP.format(client_id=client_id) + "app.is_enabled = True\napp.save()")
    for response in every_worker(deployment, client_id, secret):
        assert response.status_code == HTTPStatus.OK


def test_deleting_the_legacy_secret_through_the_api_takes_effect_in_every_worker(deployment: Cluster) -> None:
    admin = json.loads(deployment.manage("m2m", "bootstrap", "--json", "--name", "Revoker").strip().splitlines()[-1])
    out = cli(
        deployment,
        "app, secret = provisioning.create_application('Legacy', roles=[Role.objects.get(name='Shop reader')])\n"
        "print(app.client_id, secret)",
    )
    client_id, secret = out.strip().splitlines()[-1].split()
    for response in warm(deployment, client_id, secret):
        assert response.status_code == HTTPStatus.OK, deployment.log_tail()
    bearer = token(deployment, 0, admin["client_id"], admin["client_secret"], resource=MGMT, scope="all")
    assert bearer.status_code == HTTPStatus.OK, bearer.content
    deleted = requests.delete(
        deployment.url(1, f"/api/applications/{client_id}/legacy-secret"),
        headers={"Authorization": f"Bearer {bearer.json()['access_token']}"},
        timeout=TIMEOUT,
    )
    assert deleted.status_code == HTTPStatus.OK, deleted.content
    settle(deployment)
    for response in every_worker(deployment, client_id, secret):
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json()["error"] == "invalid_client"
