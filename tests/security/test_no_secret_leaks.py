"""No response, log line or admin page ever shows a client secret, a secret hash or a private key.

One test drives every kind of request at DEBUG log level for this package, oauthlib,
django-oauth-toolkit and Django, walks the admin, and searches everything it captured.
"""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from jwt.algorithms import ECAlgorithm

from logto_m2m_django.keys import key_store
from logto_m2m_django.models import ApplicationSecret, SigningKey
from logto_m2m_django.provisioning import add_secret
from tests.conftest import FORM, SHOP

pytestmark = pytest.mark.django_db

LOGGERS = ("logto_m2m_django", "oauthlib", "oauth2_provider", "django", "")


def _needles(shop: Any, named: list[str]) -> dict[str, str]:
    """Everything that must never be shown, with a name for the failure message."""
    needles = {"default secret": shop.secret}
    for index, value in enumerate(named):
        needles[f"named secret {index}"] = value
    stored = shop.app.application.__class__.objects.get(pk=shop.app.application.pk).client_secret
    needles["default secret hash"] = stored
    needles["default secret digest"] = stored.rsplit("$", 1)[-1]
    for row in ApplicationSecret.objects.filter(application=shop.app):
        needles[f"hash of {row.name}"] = row.secret_hash
        needles[f"digest of {row.name}"] = row.secret_hash.rsplit("$", 1)[-1]
    for row in SigningKey.objects.all():
        needles[f"encrypted key {row.kid}"] = row.private_key_encrypted
    private = key_store.signing_material().private_key
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    body = "".join(pem.strip().splitlines()[1:-1])
    needles["private key PEM"] = body[20:80]
    needles["private key d"] = json.loads(ECAlgorithm.to_jwk(private))["d"]
    needles["PEM marker"] = "PRIVATE KEY"
    return needles


def _search(where: str, text: str, needles: dict[str, str]) -> list[str]:
    return [f"{name} in {where}" for name, needle in needles.items() if needle and needle in text]


def _response_text(response: Any) -> str:
    headers = "\n".join(f"{k}: {v}" for k, v in response.items())
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return headers + "\n" + content.decode("utf-8", "replace")


def _drive_requests(client: Client, shop: Any, named: dict[str, str]) -> list[tuple[str, Any]]:
    token_body = {"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"}
    wrong = shop.secret[:-1] + ("A" if shop.secret[-1] != "A" else "B")

    def token(authorization: str | None = None, **body: str) -> Any:
        extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
        return client.post("/oidc/token", urlencode({**token_body, **body}), content_type=FORM, **extra)

    responses = [
        ("token basic", token(shop.basic())),
        ("token post", token(client_id=shop.client_id, client_secret=shop.secret)),
        ("token named secret", token(shop.basic(secret=named["active"]))),
        ("token expired named secret", token(shop.basic(secret=named["expired"]))),
        ("token wrong secret", token(shop.basic(secret=wrong))),
        ("token wrong secret post", token(client_id=shop.client_id, client_secret=wrong)),
        ("token unknown client", token(shop.basic(client_id="nobody"))),
        ("token both methods", token(shop.basic(), client_secret=shop.secret)),
        ("token secret in the URL", client.post(f"/oidc/token?client_secret={shop.secret}", {}, HTTP_X=1)),
        ("token bad grant", token(shop.basic(), grant_type="password", password=shop.secret)),
        (
            "token json",
            client.post(
                "/oidc/token",
                json.dumps({**token_body, "client_id": shop.client_id, "client_secret": shop.secret}),
                content_type="application/json",
            ),
        ),
        ("token broken json", client.post("/oidc/token", '{"client_secret": "' + shop.secret, "application/json")),
        ("jwks", client.get("/oidc/jwks")),
        ("discovery", client.get("/oidc/.well-known/openid-configuration")),
    ]
    access = responses[0][1].json()["access_token"]
    responses += [
        ("products", client.get("/products", HTTP_AUTHORIZATION=f"Bearer {access}")),
        ("products bad token", client.get("/products", HTTP_AUTHORIZATION=f"Bearer {access[:-4]}AAAA")),
        ("products secret as token", client.get("/products", HTTP_AUTHORIZATION=f"Bearer {shop.secret}")),
        ("products basic", client.get("/products", HTTP_AUTHORIZATION=shop.basic())),
    ]
    return responses


def _admin_pages(client: Client) -> list[tuple[str, Any]]:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-not-a-secret")
    client.force_login(user)
    pages = [("admin index", client.get("/admin/"))]
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        if meta.app_label not in ("logto_m2m", "oauth2_provider"):
            continue
        try:
            changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        except NoReverseMatch:
            continue
        pages.append((f"{meta.label} list", client.get(changelist)))
        if model_admin.has_add_permission(type("R", (), {"user": user})()):  # type: ignore[arg-type]
            pages.append((f"{meta.label} add", client.get(f"{changelist}add/")))
        for obj in model._default_manager.all()[:20]:
            pages.append((f"{meta.label} change {obj.pk}", client.get(f"{changelist}{obj.pk}/change/")))
    return pages


def test_nothing_shown_anywhere_contains_a_secret(shop, caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    active_row, active = add_secret(shop.app, "rotation 2026")
    _expired_row, expired = add_secret(shop.app, "old", expires_at=timezone.now() - timedelta(days=1))
    named = {"active": active, "expired": expired}
    client = Client()
    responses = _drive_requests(client, shop, named)
    commands = io.StringIO()
    call_command("m2m", "rotate-keys", stdout=commands)
    call_command("m2m", "keys", stdout=commands)
    responses += _admin_pages(Client())
    needles = _needles(shop, list(named.values()))

    problems: list[str] = []
    statuses = {}
    for where, response in responses:
        statuses[where] = response.status_code
        assert response.status_code < 500, (where, response.status_code)
        problems += _search(where, _response_text(response), needles)
    for record in caplog.records:
        text = "\n".join([record.getMessage(), repr(record.args), record.exc_text or ""])
        problems += _search(f"log {record.name}:{record.levelname}", text, needles)
    problems += _search("log output", caplog.text, needles)
    problems += _search("m2m command output", commands.getvalue(), needles)
    assert problems == [], problems
    # The run did exercise what it claims to: successes, refusals and the admin pages.
    assert statuses["token basic"] == 200
    assert statuses["token named secret"] == 200
    assert statuses["token wrong secret"] == 401
    assert statuses["products"] == 200
    assert any(where.startswith("logto_m2m.M2MApplication change") for where, _ in responses)
    assert active_row.pk is not None
    assert len(caplog.records) > 0
