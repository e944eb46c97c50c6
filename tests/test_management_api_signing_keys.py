"""``/api/configs/oidc/private-keys``: list, rotate (immediate or with a grace period), delete (issue 14 §3)."""

from __future__ import annotations

import base64
import json
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from logto_m2m_django import keys
from logto_m2m_django.keys import key_store
from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.models import ChangeCounter, KeyStatus, Resource, Role, Scope, SigningKey
from tests.test_management_api_scopes import caller

pytestmark = pytest.mark.django_db

KEYS = "/api/configs/oidc/private-keys"
ROTATE = f"{KEYS}/rotate"
SHOP = "https://shop.api"
T0 = 1_800_000_000.0  # epoch seconds of the injected wall clock


class WallClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    fake = WallClock()
    monkeypatch.setattr(keys, "clock", fake)
    return fake


@pytest.fixture
def api() -> APIClient:
    return caller("all")


def _rotate(api: APIClient, body: Any) -> Any:
    return api.post(ROTATE, json.dumps(body), content_type="application/json")


def _shop_token() -> str:
    """A token from the token endpoint, signed by whatever key signs now."""
    resource = Resource.objects.get_or_create(indicator=SHOP, defaults={"name": "Shop"})[0]
    role = Role.objects.create(name=f"Reader {Role.objects.count()}", description="d")
    role.scopes.add(Scope.objects.get_or_create(resource=resource, name="read:products")[0])
    m2m, secret = create_m2m_application(f"Shop client {Role.objects.count()}", roles=[role])
    basic = base64.b64encode(f"{m2m.client_id}:{secret}".encode()).decode()
    body = urlencode({"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"})
    response = APIClient().post(
        "/oidc/token", body, content_type="application/x-www-form-urlencoded", HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert response.status_code == HTTPStatus.OK, response.content
    return str(response.json()["access_token"])


def _kid(token: str) -> str:
    head = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])


def _jwks_kids() -> list[str]:
    return [key["kid"] for key in APIClient().get("/oidc/jwks").json()["keys"]]


# -- GET ----------------------------------------------------------------------------------------------------


def test_list_in_logtos_shape_current_first_then_next_then_previous(api: APIClient, wall: WallClock) -> None:
    first = key_store.signing_material().kid
    key_store.rotate("RS256")  # first -> Previous
    second = key_store.signing_material().kid
    key_store.rotate("EdDSA", grace_period=3600)  # staged Next
    staged = SigningKey.objects.get(status=KeyStatus.NEXT).kid

    response = api.get(KEYS)

    assert response.status_code == HTTPStatus.OK
    listed = response.json()
    assert [(k["id"], k["status"]) for k in listed] == [(second, "Current"), (staged, "Next"), (first, "Previous")]
    assert [k["signingKeyAlgorithm"] for k in listed] == ["RSA", "OKP", "EC"]
    assert [k["algorithm"] for k in listed] == ["RS256", "EdDSA", "ES384"]
    assert listed[1]["effectiveAt"] == int((T0 + 3600) * 1000)
    assert listed[0]["effectiveAt"] == int(T0 * 1000)
    rows = {row.kid: row for row in SigningKey.objects.all()}
    for item in listed:
        assert set(item) == {"id", "createdAt", "signingKeyAlgorithm", "algorithm", "status", "effectiveAt"}
        assert item["createdAt"] == int(rows[item["id"]].created_at.timestamp() * 1000)
        # No private key material, encrypted or not.
        assert rows[item["id"]].private_key_encrypted not in response.content.decode()
    assert '"d"' not in response.content.decode()
    key_store.delete(staged)
    key_store.rotate(staged=True)  # no date: waits for a manual promotion
    manual = api.get(KEYS).json()[1]
    assert manual["status"] == "Next" and "effectiveAt" not in manual


# -- POST rotate ----------------------------------------------------------------------------------------------


def test_rotate_at_once_answers_the_new_list_and_the_new_key_signs(api: APIClient) -> None:
    old = key_store.signing_material().kid
    response = _rotate(api, {})
    assert response.status_code == HTTPStatus.OK, response.content
    listed = response.json()
    assert [k["status"] for k in listed] == ["Current", "Previous"]
    assert listed[1]["id"] == old
    assert _kid(_shop_token()) == listed[0]["id"]


def test_rotate_with_a_grace_period_stages_a_next_key_that_signs_once_due_by_itself(
    api: APIClient, wall: WallClock, django_capture_on_commit_callbacks: Any
) -> None:
    old = key_store.signing_material().kid
    response = _rotate(api, {"rotationGracePeriod": 600})
    assert response.status_code == HTTPStatus.OK, response.content
    current, staged = response.json()
    assert (current["id"], current["status"]) == (old, "Current")
    assert staged["status"] == "Next" and staged["effectiveAt"] == int((T0 + 600) * 1000)
    assert staged["id"] in _jwks_kids()  # published at once

    wall.now = T0 + 599
    assert _kid(_shop_token()) == old  # signs nothing before effectiveAt

    version = ChangeCounter.objects.get(channel="keys").version
    wall.now = T0 + 600
    assert _kid(_shop_token()) == staged["id"]  # no second call
    statuses = dict(SigningKey.objects.values_list("kid", "status"))
    assert statuses == {staged["id"]: KeyStatus.CURRENT, old: KeyStatus.PREVIOUS}  # persisted
    assert ChangeCounter.objects.get(channel="keys").version == version + 1  # announced to the others
    assert [(k["id"], k["status"]) for k in api.get(KEYS).json()] == [(staged["id"], "Current"), (old, "Previous")]


def test_the_grace_period_defaults_to_the_setting(api: APIClient, wall: WallClock, settings: Any) -> None:
    settings.LOGTO_M2M = {**settings.LOGTO_M2M, "KEY_ROTATION_GRACE_PERIOD": 7200}
    key_store.signing_material()
    listed = _rotate(api, {}).json()
    assert [k["status"] for k in listed] == ["Current", "Next"]
    assert listed[1]["effectiveAt"] == int((T0 + 7200) * 1000)
    assert _rotate(api, {"rotationGracePeriod": 0}).status_code == HTTPStatus.OK  # 0: promote now
    assert api.get(KEYS).json()[0]["id"] == listed[1]["id"]


@pytest.mark.parametrize(
    ("body", "algorithm", "kty"),
    [
        ({"signingKeyAlgorithm": "RSA"}, "RS256", "RSA"),
        ({"signingKeyAlgorithm": "EC"}, "ES384", "EC"),
        ({"signingKeyAlgorithm": "RSA", "algorithm": "PS256"}, "PS256", "RSA"),
        ({"algorithm": "ES256"}, "ES256", "EC"),
        ({"algorithm": "EdDSA"}, "EdDSA", "OKP"),
    ],
)
def test_rotate_chooses_the_algorithm(api: APIClient, body: dict[str, Any], algorithm: str, kty: str) -> None:
    key_store.signing_material()
    response = _rotate(api, body)
    assert response.status_code == HTTPStatus.OK, response.content
    current = response.json()[0]
    assert (current["algorithm"], current["signingKeyAlgorithm"]) == (algorithm, kty)


@pytest.mark.parametrize(
    "body",
    [
        {"signingKeyAlgorithm": "EC", "algorithm": "RS256"},
        {"signingKeyAlgorithm": "DSA"},
        {"algorithm": "HS256"},
        {"algorithm": "none"},
        {"rotationGracePeriod": -1},
        {"rotationGracePeriod": "soon"},
        {"rotationGracePeriod": True},
        {"rotationGracePeriod": 1.5},
        {"rotationGracePeriod": 10**12},
        [],
        "rotate",
    ],
)
def test_rotate_refuses_bad_input_with_400_and_changes_nothing(api: APIClient, body: Any) -> None:
    key_store.signing_material()
    before = sorted(SigningKey.objects.values_list("kid", "status"))
    response = _rotate(api, body)
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert response.json()["code"] == "guard.invalid_input"
    assert sorted(SigningKey.objects.values_list("kid", "status")) == before


def test_a_second_staged_rotation_is_422_while_a_next_key_waits(api: APIClient) -> None:
    key_store.signing_material()
    assert _rotate(api, {"rotationGracePeriod": 3600}).status_code == HTTPStatus.OK
    response = _rotate(api, {"rotationGracePeriod": 3600})
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["code"] == "oidc.next_key_already_staged"
    assert SigningKey.objects.filter(status=KeyStatus.NEXT).count() == 1


# -- DELETE ---------------------------------------------------------------------------------------------------


def test_delete_a_previous_key_is_204_and_its_tokens_stop_validating(api: APIClient) -> None:
    old = key_store.signing_material().kid
    key_store.rotate()
    response = api.delete(f"{KEYS}/{old}")
    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.content == b""
    assert old not in _jwks_kids()
    assert not SigningKey.objects.filter(kid=old).exists()


def test_delete_a_staged_next_key_withdraws_it(api: APIClient, wall: WallClock) -> None:
    current = key_store.signing_material().kid
    staged = _rotate(api, {"rotationGracePeriod": 60}).json()[1]["id"]
    assert api.delete(f"{KEYS}/{staged}").status_code == HTTPStatus.NO_CONTENT
    wall.now = T0 + 3600
    assert _kid(_shop_token()) == current


def test_delete_the_current_key_is_422(api: APIClient) -> None:
    key_store.signing_material()
    key_store.rotate()
    current = key_store.signing_material().kid
    response = api.delete(f"{KEYS}/{current}")
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["code"] == "oidc.current_key_can_not_be_deleted"
    assert SigningKey.objects.filter(kid=current).exists()


def test_delete_the_last_key_is_422_key_required(api: APIClient) -> None:
    only = key_store.signing_material().kid
    response = api.delete(f"{KEYS}/{only}")
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.json()["code"] == "oidc.key_required"
    assert SigningKey.objects.filter(kid=only).exists()


@pytest.mark.parametrize("kid", ["unknown", "x" * 300, "%00"])
def test_delete_an_unknown_key_is_404(api: APIClient, kid: str) -> None:
    key_store.signing_material()
    response = api.delete(f"{KEYS}/{kid}")
    assert response.status_code in (HTTPStatus.NOT_FOUND, HTTPStatus.BAD_REQUEST)
    if response.status_code == HTTPStatus.NOT_FOUND:
        assert response.json()["code"] == "oidc.key_not_found"
        assert response.json()["data"] == {"id": kid}
    assert SigningKey.objects.count() == 1


def test_other_key_types_are_a_json_404(api: APIClient) -> None:
    response = api.get("/api/configs/oidc/cookie-keys")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "entity.not_found"


# -- OpenAPI ----------------------------------------------------------------------------------------------------


def test_the_openapi_document_lists_the_routes_with_their_scopes() -> None:
    document = APIClient().get("/api/openapi.json").json()
    paths = document["paths"]
    expected = {
        ("get", KEYS): "read:signing-keys",
        ("post", ROTATE): "write:signing-keys",
        ("delete", KEYS + "/{key_id}"): "write:signing-keys",
    }
    for (method, path), scope in expected.items():
        operation = paths[path][method]
        assert {"clientCredentials": [scope]} in operation["security"]
        assert {"clientCredentials": ["all"]} in operation["security"]
    rotate = paths[ROTATE]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert set(document["components"]["schemas"][rotate]["properties"]) == {
        "signingKeyAlgorithm",
        "algorithm",
        "rotationGracePeriod",
    }
