"""Faults: the database or the cache goes away, and comes back.

The database is taken away either by patching the connection so that it can't connect
(any backend), or, on PostgreSQL, by pointing the connection at a port nobody listens on.
The machine's shared PostgreSQL and Redis are never touched.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import OperationalError, connection, connections
from django.test import Client

from logto_m2m_django.grant_cache import grant_cache
from logto_m2m_django.keys import key_store
from logto_m2m_django.oauth import throttling
from tests.conftest import FORM, SHOP

BODY = urlencode({"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"})
LEAKS = ("Traceback", "OperationalError", "psycopg", "sqlite", "connection", 'File "')


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def database_down_by_patch(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every new cursor fails as if the server had gone away."""
    with monkeypatch.context() as patch:

        def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
            raise OperationalError("could not connect to server: Connection refused")

        patch.setattr(type(connections["default"]), "create_cursor", refuse)
        yield


@contextmanager
def database_down_by_port() -> Iterator[None]:
    """The connection re-pointed at a dead loopback port (PostgreSQL), restored afterwards."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update({"HOST": "127.0.0.1", "PORT": str(_dead_port())})
    connection.settings_dict.setdefault("OPTIONS", {})
    connection.settings_dict["OPTIONS"] = {**saved.get("OPTIONS", {}), "connect_timeout": 2}
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def _token(client: Client, shop: Any) -> Any:
    return client.post("/oidc/token", BODY, content_type=FORM, HTTP_AUTHORIZATION=shop.basic())


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "temporarily_unavailable"
    text = response.content.decode()
    for leak in LEAKS:
        assert leak not in text


def _outage_scenario(shop: Any, outage: Any) -> None:
    client = Client()
    seen = _token(client, shop).json()["access_token"]
    unseen = _token(client, shop).json()["access_token"]
    fresh = _token(client, shop).json()["access_token"]
    assert client.get("/products", HTTP_AUTHORIZATION=f"Bearer {seen}").status_code == HTTPStatus.OK
    with outage():
        # A client this process has served gets tokens from its grant cache (its activity row is lost,
        # and logged); one it has not is refused with 503.
        assert _token(client, shop).status_code == HTTPStatus.OK
        grant_cache.invalidate()
        _assert_unavailable(_token(client, shop))
        _assert_unavailable(_token(client, shop))
        # Validation needs no database: a token seen before, and one verified for the first time.
        assert client.get("/products", HTTP_AUTHORIZATION=f"Bearer {seen}").status_code == HTTPStatus.OK
        assert client.get("/products", HTTP_AUTHORIZATION=f"Bearer {unseen}").status_code == HTTPStatus.OK
        # Bad tokens are still told apart from good ones.
        bad = client.get("/products", HTTP_AUTHORIZATION=f"Bearer {unseen[:-6]}AAAAAA")
        assert bad.status_code == HTTPStatus.UNAUTHORIZED
        # The key cache expires, or an unknown kid asks for a reload, during the outage:
        # the keys the process has keep working.
        key_store._snapshot.loaded_at -= 10**6  # type: ignore[union-attr]
        assert client.get("/products", HTTP_AUTHORIZATION=f"Bearer {fresh}").status_code == HTTPStatus.OK
        jwks = client.get("/oidc/jwks")
        # The JWKS is served from the keys the process holds, like validation.
        assert jwks.status_code == HTTPStatus.OK
        assert jwks.json()["keys"]
    # The database is back: the same process serves tokens again, with no restart.
    recovered = _token(client, shop)
    assert recovered.status_code == HTTPStatus.OK
    assert client.get("/products", HTTP_AUTHORIZATION=f"Bearer {recovered.json()['access_token']}").status_code == 200


def test_database_down_by_patch(transactional_db, shop, monkeypatch):
    _outage_scenario(shop, lambda: database_down_by_patch(monkeypatch))


@pytest.mark.postgres
def test_database_down_by_dead_port(transactional_db, shop):
    _outage_scenario(shop, database_down_by_port)


def test_unknown_kid_during_an_outage_is_a_401(transactional_db, shop, monkeypatch):
    from tests.security.conftest import Forger

    client = Client()
    _token(client, shop)
    forger = Forger(key_store.signing_material(), shop.client_id)
    with database_down_by_patch(monkeypatch):
        response = client.get("/products", HTTP_AUTHORIZATION=f"Bearer {forger.sign(headers={'kid': 'new-kid'})}")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.mark.django_db
def test_cache_down_everything_still_answers(shop, settings, caplog):
    # The default cache itself is a Redis nobody listens on, with throttling at its defaults.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_dead_port()}/0",
        }
    }
    settings.LOGTO_M2M = {k: v for k, v in settings.LOGTO_M2M.items() if k != "THROTTLE_RATES"}
    throttling.reset()
    client = Client()
    try:
        token = _token(client, shop)
        assert token.status_code == HTTPStatus.OK
        wrong = client.post(
            "/oidc/token", BODY, content_type=FORM, HTTP_AUTHORIZATION=shop.basic(secret="wrong-secret")
        )
        assert wrong.status_code == HTTPStatus.UNAUTHORIZED
        products = client.get("/products", HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}")
        assert products.status_code == HTTPStatus.OK
        assert client.get("/oidc/jwks").status_code == HTTPStatus.OK
        assert client.get("/oidc/.well-known/openid-configuration").status_code == HTTPStatus.OK
    finally:
        throttling.reset()
    assert "unreachable" in caplog.text
