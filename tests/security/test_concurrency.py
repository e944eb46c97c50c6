"""Parallel writers and readers on PostgreSQL: key rotations, secrets, grants changing under load.

Threads, each with its own database connection, against committed data
(``transactional_db``). Loops are bounded; nothing waits on the clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from logto_m2m_django.keys import KeyStoreError, key_store
from logto_m2m_django.models import ApplicationSecret, KeyStatus, Scope, SigningKey
from logto_m2m_django.provisioning import add_secret
from tests.conftest import FORM, SHOP

JOIN_TIMEOUT = 60


def _in_parallel(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; results or exceptions, in order."""
    barrier = threading.Barrier(count, timeout=JOIN_TIMEOUT)

    def run(index: int) -> Any:
        try:
            barrier.wait()
            return work(index)
        except Exception as exc:  # returned, so the test can look at it
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(run, i) for i in range(count)]
        return [f.result(timeout=JOIN_TIMEOUT) for f in futures]


@pytest.mark.postgres
@pytest.mark.parametrize("existing_key", [True, False], ids=["from-one-key", "from-no-key"])
def test_parallel_key_rotations_leave_one_current_key(transactional_db, existing_key):
    if existing_key:
        key_store.ensure_current_key()
    for _round in range(3):
        results = _in_parallel(2, lambda _i: key_store.rotate())
        for result in results:
            # Each rotation either happened or failed with a clean domain/database error.
            assert not isinstance(result, Exception) or isinstance(result, (KeyStoreError, IntegrityError)), result
        assert any(not isinstance(r, Exception) for r in results)
        assert SigningKey.objects.filter(status=KeyStatus.CURRENT).count() == 1
        assert SigningKey.objects.filter(status=KeyStatus.NEXT).count() == 0
        assert SigningKey.objects.filter(status=KeyStatus.PREVIOUS).count() <= 1
    key_store.invalidate()
    # And the survivor signs and publishes.
    assert key_store.signing_material().kid in {k["kid"] for k in key_store.jwks()["keys"]}


@pytest.mark.postgres
def test_parallel_key_rotations_and_staging(transactional_db):
    key_store.ensure_current_key()
    results = _in_parallel(4, lambda i: key_store.rotate(staged=bool(i % 2)))
    for result in results:
        assert not isinstance(result, Exception) or isinstance(result, (KeyStoreError, IntegrityError)), result
    assert SigningKey.objects.filter(status=KeyStatus.CURRENT).count() == 1
    assert SigningKey.objects.filter(status=KeyStatus.NEXT).count() <= 1


@pytest.mark.postgres
def test_two_secrets_with_one_name_give_one_row_and_one_clear_error(transactional_db, shop):
    results = _in_parallel(2, lambda _i: add_secret(shop.app, "deploy-2026"))
    created = [r for r in results if not isinstance(r, Exception)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(created) == 1
    assert len(errors) == 1
    assert isinstance(errors[0], IntegrityError)
    assert "logto_m2m_secret_name_unique" in str(errors[0])
    assert ApplicationSecret.objects.filter(application=shop.app, name="deploy-2026").count() == 1
    # The survivor works; the loser's value was never stored.
    _row, value = created[0]
    response = Client().post(
        "/oidc/token",
        urlencode({"grant_type": "client_credentials", "resource": SHOP}),
        content_type=FORM,
        HTTP_AUTHORIZATION=shop.basic(secret=value),
    )
    assert response.status_code == HTTPStatus.OK


@pytest.mark.postgres
def test_grants_edited_while_tokens_are_issued(transactional_db, shop):
    # Two consistent states, switched atomically: the role grants {a, b} or {c, d}.
    names = ["stock:a", "stock:b", "stock:c", "stock:d"]
    scopes = {n: Scope.objects.create(resource=shop.resource, name=n) for n in names}
    shop.role.scopes.set([scopes["stock:a"], scopes["stock:b"]])
    first, second = frozenset({"stock:a", "stock:b"}), frozenset({"stock:c", "stock:d"})
    stop = threading.Event()
    body = urlencode({"grant_type": "client_credentials", "resource": SHOP, "scope": " ".join(names)})

    def edit() -> int:
        flips = 0
        while not stop.is_set() and flips < 20_000:
            target = second if flips % 2 == 0 else first
            with transaction.atomic():
                shop.role.scopes.set([scopes[n] for n in sorted(target)])
            flips += 1
        return flips

    def issue(_index: int) -> list[tuple[int, frozenset[str] | None]]:
        client = Client()
        seen = []
        for _ in range(25):
            response = client.post("/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=shop.basic())
            granted = None
            if response.status_code == HTTPStatus.OK:
                claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
                granted = frozenset(claims.get("scope", "").split())
                assert granted == frozenset(response.json().get("scope", "").split())
            seen.append((response.status_code, granted))
        return seen

    editor = threading.Thread(target=lambda: (edit(), connection.close()), daemon=True)
    editor.start()
    try:
        results = _in_parallel(3, issue)
    finally:
        stop.set()
        editor.join(timeout=JOIN_TIMEOUT)
    assert not editor.is_alive()
    for result in results:
        assert not isinstance(result, Exception), result
        for status, granted in result:
            assert status == HTTPStatus.OK
            assert granted in (first, second), granted


@pytest.mark.django_db
def test_changes_apply_to_the_very_next_token_request(shop, request_token, settings):
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "VERIFIED_TOKEN_CACHE_SIZE": 0}
    assert request_token(shop, scope="read:products").json()["scope"] == "read:products"
    # A scope taken out of the role.
    shop.role.scopes.remove(shop.read)
    assert "scope" not in request_token(shop, scope="read:products").json()
    shop.role.scopes.add(shop.read)
    assert request_token(shop, scope="read:products").json()["scope"] == "read:products"
    # The role taken from the app.
    shop.app.roles.remove(shop.role)
    assert "scope" not in request_token(shop, scope="read:products").json()
    shop.app.roles.add(shop.role)
    assert request_token(shop, scope="read:products").json()["scope"] == "read:products"
    # The role deleted.
    shop.role.delete()
    assert "scope" not in request_token(shop, scope="read:products").json()
    # The app disabled.
    shop.app.is_enabled = False
    shop.app.save(update_fields=["is_enabled"])
    response = request_token(shop, scope="read:products")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "unauthorized_client"
    shop.app.is_enabled = True
    shop.app.save(update_fields=["is_enabled"])
    assert request_token(shop).status_code == HTTPStatus.OK
