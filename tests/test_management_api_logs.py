"""``GET /api/logs`` and ``GET /api/logs/{id}``: token requests in Logto's audit-log shape (issue 14 §2)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.models import ApplicationSecret, M2MApplication, Resource, Role, Scope, TokenActivity
from logto_m2m_django.provisioning import add_secret
from tests.test_management_api_scopes import caller

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
SHOP = "https://shop.api"
KEY = "ExchangeTokenBy.ClientCredentials"


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _token_request(client_id: str, secret: str, agent: str = "ci-runner/1.0", **extra: str) -> Any:
    body = {"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products write:products", **extra}
    return APIClient().post(
        "/oidc/token",
        urlencode(body),
        content_type=FORM,
        HTTP_AUTHORIZATION=_basic(client_id, secret),
        HTTP_USER_AGENT=agent,
    )


@pytest.fixture
def shop_app() -> tuple[M2MApplication, str, str]:
    """An app with its "Default secret" and a second named secret, "deploy-bot"."""
    resource = Resource.objects.create(name="Shop", indicator=SHOP)
    role = Role.objects.create(name="Reader", description="Reads")
    role.scopes.add(Scope.objects.create(resource=resource, name="read:products"))
    m2m, default_secret = create_m2m_application("Order stats", roles=[role])
    _row, deploy_secret = add_secret(m2m, "deploy-bot", None)
    return m2m, default_secret, deploy_secret


def test_a_successful_token_request_in_logtos_shape(shop_app: tuple[M2MApplication, str, str]) -> None:
    m2m, _default, deploy = shop_app
    assert _token_request(m2m.client_id, deploy).status_code == HTTPStatus.OK
    response = caller("read:logs").get("/api/logs")
    assert response.status_code == HTTPStatus.OK
    [log] = [item for item in response.json() if item["payload"].get("applicationId") == m2m.client_id]
    assert log["key"] == KEY
    assert isinstance(log["createdAt"], int) and isinstance(log["id"], str)
    assert log["payload"] == {
        "key": KEY,
        "result": "Success",
        "ip": "127.0.0.1",
        "userAgent": "ci-runner/1.0",
        "applicationId": m2m.client_id,
        "applicationSecret": {"name": "deploy-bot"},
        "params": {"resource": SHOP, "scope": "read:products write:products"},
        "scope": "read:products",
        "tokenTypes": ["AccessToken"],
    }


def test_which_secret_authenticated_is_recorded(shop_app: tuple[M2MApplication, str, str]) -> None:
    m2m, default, deploy = shop_app
    _token_request(m2m.client_id, default, agent="old-cron/0.1")
    _token_request(m2m.client_id, deploy, agent="new-cron/2.0")
    rows = TokenActivity.objects.filter(application=m2m).order_by("pk")
    assert [(r.secret_name, r.user_agent) for r in rows] == [
        ("Default secret", "old-cron/0.1"),
        ("deploy-bot", "new-cron/2.0"),
    ]


def test_a_failed_request_is_an_error_log_without_a_secret_name(shop_app: tuple[M2MApplication, str, str]) -> None:
    m2m, _default, _deploy = shop_app
    assert _token_request(m2m.client_id, "wrong-secret").status_code == HTTPStatus.UNAUTHORIZED
    [log] = caller("read:logs").get("/api/logs", {"applicationId": m2m.client_id}).json()
    assert log["payload"]["result"] == "Error"
    assert log["payload"]["error"] == "invalid_client"
    assert "applicationSecret" not in log["payload"] and "scope" not in log["payload"]
    assert log["payload"]["params"] == {"resource": SHOP, "scope": "read:products write:products"}


def test_a_refusal_after_authentication_names_the_secret(shop_app: tuple[M2MApplication, str, str]) -> None:
    m2m, _default, deploy = shop_app
    response = _token_request(m2m.client_id, deploy, resource="https://unknown.api")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    [log] = caller("read:logs").get("/api/logs", {"applicationId": m2m.client_id}).json()
    assert log["payload"]["error"] == "invalid_target"
    assert log["payload"]["applicationSecret"] == {"name": "deploy-bot"}


def test_the_user_agent_is_cut_short(shop_app: tuple[M2MApplication, str, str]) -> None:
    m2m, default, _deploy = shop_app
    _token_request(m2m.client_id, default, agent="A" * 5000)
    row = TokenActivity.objects.get()
    assert len(row.user_agent) == 256 and row.user_agent.endswith("…")


def reader() -> APIClient:
    """A read:logs client; its own token request is removed from the log so that tests count theirs."""
    api = caller("read:logs")
    TokenActivity.objects.all().delete()
    return api


def _rows(m2m: M2MApplication | None, count: int, start: datetime) -> list[TokenActivity]:
    rows = []
    for n in range(count):
        row = TokenActivity.objects.create(
            application=m2m, client_id=m2m.client_id if m2m else "x", outcome="success", status_code=200
        )
        TokenActivity.objects.filter(pk=row.pk).update(created_at=start + timedelta(seconds=n))
        rows.append(row)
    return rows


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_always_paginated_newest_first_with_logtos_headers(shop_app: tuple[M2MApplication, str, str]) -> None:
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    api = reader()
    rows = _rows(shop_app[0], 5, start)
    first = api.get("/api/logs")
    assert first["Total-Number"] == "5"
    assert [log["id"] for log in first.json()] == [str(r.pk) for r in reversed(rows)]
    page2 = api.get("/api/logs", {"page": 2, "page_size": 2})
    assert [log["id"] for log in page2.json()] == [str(rows[2].pk), str(rows[1].pk)]
    assert 'rel="prev"' in page2["Link"] and 'rel="next"' in page2["Link"] and 'rel="last"' in page2["Link"]
    assert api.get("/api/logs", {"page": 4, "page_size": 2}).json() == []
    bad = api.get("/api/logs", {"page_size": 101})
    assert bad.status_code == HTTPStatus.BAD_REQUEST and bad.json()["code"] == "guard.invalid_pagination"


def test_filters(shop_app: tuple[M2MApplication, str, str]) -> None:
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    api = reader()
    other = create_m2m_application("Other")[0]
    mine = _rows(shop_app[0], 3, start)
    theirs = _rows(other, 2, start + timedelta(hours=1))

    def ids(**query: Any) -> list[str]:
        response = api.get("/api/logs", query)
        assert response.status_code == HTTPStatus.OK, response.content
        return [log["id"] for log in response.json()]

    assert ids(applicationId=shop_app[0].client_id) == [str(r.pk) for r in reversed(mine)]
    assert ids(applicationId="unknown") == []
    assert len(ids(logKey=KEY)) == 5
    assert ids(logKey="ExchangeTokenBy.AuthorizationCode") == []
    assert ids(userId="some-user") == []
    # start_time and end_time in epoch milliseconds, both inclusive.
    assert ids(start_time=_ms(start + timedelta(seconds=1)), end_time=_ms(start + timedelta(seconds=2))) == [
        str(mine[2].pk),
        str(mine[1].pk),
    ]
    assert ids(start_time=_ms(start + timedelta(minutes=30))) == [str(r.pk) for r in reversed(theirs)]
    assert ids(end_time=_ms(start)) == [str(mine[0].pk)]
    window = ids(start_time=_ms(start), end_time=_ms(start + timedelta(hours=2)), applicationId=other.client_id)
    assert window == [str(r.pk) for r in reversed(theirs)]


@pytest.mark.parametrize("query", [{"start_time": "yesterday"}, {"end_time": "NaN"}, {"start_time": "1e400"}])
def test_a_bad_time_is_400(db: Any, query: dict[str, str]) -> None:
    response = caller("read:logs").get("/api/logs", query)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "guard.invalid_input"


def test_a_backwards_window_is_400(db: Any) -> None:
    response = caller("read:logs").get("/api/logs", {"start_time": 2000, "end_time": 1000})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "log.invalid_time_window"


def test_one_log_and_404s(shop_app: tuple[M2MApplication, str, str]) -> None:
    m2m, default, _deploy = shop_app
    api = reader()
    _token_request(m2m.client_id, default)
    row = TokenActivity.objects.get()
    response = api.get(f"/api/logs/{row.pk}")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == api.get("/api/logs").json()[0]
    for missing in (str(row.pk + 1000), "abc", "9" * 40):
        response = api.get(f"/api/logs/{missing}")
        assert response.status_code == HTTPStatus.NOT_FOUND
        assert response.json()["code"] == "entity.not_exists_with_id"


def test_no_secret_hash_or_token_appears_in_any_log(shop_app: tuple[M2MApplication, str, str]) -> None:
    m2m, default, deploy = shop_app
    issued = [_token_request(m2m.client_id, default).json()["access_token"]]
    issued.append(_token_request(m2m.client_id, deploy).json()["access_token"])
    _token_request(m2m.client_id, deploy + "x")  # a wrong secret, one character off
    _token_request(m2m.client_id, "Z" * 40, resource="https://unknown.api")
    # client_secret_post: the secret in the body
    body = {"grant_type": "client_credentials", "client_id": m2m.client_id, "client_secret": default, "resource": SHOP}
    issued.append(APIClient().post("/oidc/token", urlencode(body), content_type=FORM).json()["access_token"])
    body["client_secret"] = "wrong-" + default
    APIClient().post("/oidc/token", urlencode(body), content_type=FORM)
    # a Basic header without the ":" separator (the whole value might be a secret)
    raw = base64.b64encode(default.encode()).decode()
    APIClient().post(
        "/oidc/token",
        urlencode({"grant_type": "client_credentials"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=f"Basic {raw}",
    )
    hashes = list(ApplicationSecret.objects.values_list("secret_hash", flat=True))
    secrets = [default, deploy, deploy + "x", "Z" * 40, "wrong-" + default, raw]
    api = caller("read:logs")
    pages = [api.get("/api/logs", {"page": n, "page_size": 3}) for n in (1, 2, 3)]
    texts = [page.content.decode() for page in pages]
    texts += [api.get(f"/api/logs/{pk}").content.decode() for pk in TokenActivity.objects.values_list("pk", flat=True)]
    assert sum(len(page.json()) for page in pages) == TokenActivity.objects.count() >= 7
    everything = "\n".join(texts)
    for value in [*secrets, *hashes, *issued]:
        assert value not in everything
    for token in issued:
        for part in token.split("."):
            assert part not in everything
    assert "deploy-bot" in everything and "Default secret" in everything
    assert json.loads(texts[0])  # the scan read real logs


def test_logs_need_read_logs(db: Any) -> None:
    response = caller("read:applications").get("/api/logs")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert 'scope="read:logs"' in response["WWW-Authenticate"]
