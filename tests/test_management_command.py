"""``manage.py m2m``: demo, rotate-keys, keys."""

from __future__ import annotations

import base64
import io
import json
from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from django.core.management import CommandError, call_command

from logto_m2m_django.models import KeyStatus, M2MApplication, Resource, Role, Scope, SigningKey
from tests.conftest import FORM, SHOP

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command("m2m", *args, stdout=out)
    return out.getvalue()


def demo_json():
    return json.loads(run("demo", "--json"))


def token_status(api_client, client_id, secret):
    basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    body = urlencode({"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"})
    return api_client.post("/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=basic)


# -- demo ---------------------------------------------------------------------------------------------


def test_demo_json_prints_the_credentials(api_client):
    data = demo_json()
    assert {"client_id", "client_secret", "resource", "token_endpoint"} <= set(data)
    assert data["resource"] == SHOP
    assert data["token_endpoint"] == "https://auth.example.com/oidc/token"
    response = token_status(api_client, data["client_id"], data["client_secret"])
    assert response.status_code == HTTPStatus.OK
    assert response.json()["scope"] == "read:products"


def test_demo_creates_the_shopping_example():
    demo_json()
    resource = Resource.objects.get()
    assert (resource.indicator, resource.name) == (SHOP, "Online shopping")
    assert set(Scope.objects.values_list("name", flat=True)) == {"read:products", "write:products"}
    role = Role.objects.get()
    assert role.name == "Shop reader"
    assert list(role.scopes.values_list("name", flat=True)) == ["read:products"]
    app = M2MApplication.objects.get()
    assert app.name == "Order stats"
    assert list(app.roles.all()) == [role]
    # The first signing key is ready, so the JWKS is not empty.
    assert SigningKey.objects.filter(status=KeyStatus.CURRENT).count() == 1


def test_demo_is_idempotent_and_replaces_the_secret(api_client):
    first = demo_json()
    second = demo_json()
    assert (Resource.objects.count(), Scope.objects.count(), Role.objects.count()) == (1, 2, 1)
    assert M2MApplication.objects.count() == 1
    assert SigningKey.objects.count() == 1
    assert second["client_id"] == first["client_id"]
    assert second["client_secret"] != first["client_secret"]
    assert token_status(api_client, second["client_id"], second["client_secret"]).status_code == HTTPStatus.OK
    old = token_status(api_client, first["client_id"], first["client_secret"])
    assert old.status_code == HTTPStatus.UNAUTHORIZED
    assert old.json()["error"] == "invalid_client"


def test_demo_human_output_shows_id_and_secret_once():
    out = run("demo")
    app = M2MApplication.objects.get()
    assert app.client_id in out
    assert "App secret:" in out
    assert "shown once" in out


def test_demo_curl_output_uses_the_base_url(api_client):
    out = run("demo", "--curl", "--base-url", "http://127.0.0.1:9999/")
    assert "curl --location --request POST 'http://127.0.0.1:9999/oidc/token'" in out
    assert "'http://127.0.0.1:9999/products'" in out
    basic = next(line for line in out.splitlines() if "Authorization: Basic" in line)
    encoded = basic.split("Basic ")[1].rstrip("' \\")
    client_id, secret = base64.b64decode(encoded).decode().split(":", 1)
    assert token_status(api_client, client_id, secret).status_code == HTTPStatus.OK


def test_demo_re_enables_a_disabled_demo_app(api_client):
    demo_json()
    M2MApplication.objects.update(is_enabled=False)
    data = demo_json()
    assert token_status(api_client, data["client_id"], data["client_secret"]).status_code == HTTPStatus.OK


def test_demo_restores_a_removed_role_assignment(api_client):
    data = demo_json()
    M2MApplication.objects.get().roles.clear()
    data = demo_json()
    assert token_status(api_client, data["client_id"], data["client_secret"]).json()["scope"] == "read:products"


# -- keys ----------------------------------------------------------------------------------------------------


def statuses():
    return dict(SigningKey.objects.values_list("kid", "status"))


def test_rotate_keys_immediately():
    run("keys")
    out = run("rotate-keys")
    keys = statuses()
    assert sorted(keys.values()) == [KeyStatus.CURRENT, KeyStatus.PREVIOUS]
    current = next(kid for kid, status in keys.items() if status == KeyStatus.CURRENT)
    assert f"Current key: {current}" in out


def test_rotate_keys_staged():
    run("rotate-keys", "--staged")
    assert sorted(statuses().values()) == [KeyStatus.CURRENT, KeyStatus.NEXT]
    staged = next(kid for kid, status in statuses().items() if status == KeyStatus.NEXT)
    run("rotate-keys")
    assert statuses()[staged] == KeyStatus.CURRENT


def test_rotate_keys_with_another_algorithm():
    out = run("rotate-keys", "--algorithm", "EdDSA")
    assert SigningKey.objects.get(status=KeyStatus.CURRENT).algorithm == "EdDSA"
    assert "EdDSA" in out


def test_rotate_keys_refuses_a_second_staged_key():
    run("rotate-keys", "--staged")
    with pytest.raises(CommandError, match="already staged"):
        run("rotate-keys", "--staged")


def test_rotate_keys_refuses_unknown_algorithms():
    with pytest.raises(CommandError):
        run("rotate-keys", "--algorithm", "HS256")
    assert SigningKey.objects.count() == 0


def test_keys_lists_every_key():
    run("rotate-keys")
    run("rotate-keys", "--staged")
    out = run("keys")
    for kid, status in statuses().items():
        line = next(line for line in out.splitlines() if kid in line)
        assert line.startswith(status.capitalize())


def test_keys_on_an_empty_table_says_so():
    assert "No signing keys yet" in run("keys")


def test_a_subcommand_is_required():
    with pytest.raises(CommandError):
        run()
