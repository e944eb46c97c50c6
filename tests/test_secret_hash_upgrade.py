"""Secrets stored by a slow password hasher (DOT's PBKDF2 default) are re-hashed with HMAC on first use."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from oauth2_provider.models import get_application_model

from logto_m2m_django.checks import check_slow_secret_hashes
from logto_m2m_django.models import ApplicationSecret
from logto_m2m_django.provisioning import add_secret
from logto_m2m_django.secrets import ALGORITHM, generate_secret
from tests.conftest import FORM, SHOP

pytestmark = pytest.mark.django_db


def slow_hash(secret: str) -> str:
    # Few iterations keep the test fast; the format and the code path are PBKDF2's.
    return PBKDF2PasswordHasher().encode(secret, "saltsaltsalt", iterations=1000)


def _token(api_client: Any, shop: Any, secret: str) -> Any:
    body = urlencode({"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"})
    return api_client.post("/oidc/token", body, content_type=FORM, HTTP_AUTHORIZATION=shop.basic(secret=secret))


def test_slow_default_secret_is_upgraded_on_success(api_client, shop):
    application = get_application_model()
    application.objects.filter(pk=shop.app.pk).update(client_secret=slow_hash(shop.secret))
    assert check_slow_secret_hashes(databases=["default"])[0].id == "logto_m2m.W033"
    assert check_slow_secret_hashes() == []  # without --database, like Django's own database checks
    assert _token(api_client, shop, "wrong" + shop.secret).status_code == HTTPStatus.UNAUTHORIZED
    assert application.objects.get(pk=shop.app.pk).client_secret.startswith("pbkdf2_sha256$")  # not on failure
    assert _token(api_client, shop, shop.secret).status_code == HTTPStatus.OK
    stored = application.objects.get(pk=shop.app.pk).client_secret
    assert stored.startswith(f"{ALGORITHM}$")
    assert _token(api_client, shop, shop.secret).status_code == HTTPStatus.OK  # the new hash works
    assert check_slow_secret_hashes(databases=["default"]) == []


def test_slow_named_secret_is_upgraded_on_success(api_client, shop):
    row, _ = add_secret(shop.app, "imported")
    value = generate_secret()
    ApplicationSecret.objects.filter(pk=row.pk).update(secret_hash=slow_hash(value))
    [warning] = check_slow_secret_hashes(databases=["default"])
    assert "1 application" in warning.msg
    assert _token(api_client, shop, value).status_code == HTTPStatus.OK
    assert ApplicationSecret.objects.get(pk=row.pk).secret_hash.startswith(f"{ALGORITHM}$")
    assert _token(api_client, shop, value).status_code == HTTPStatus.OK
    assert check_slow_secret_hashes(databases=["default"]) == []


def test_upgrade_never_brings_back_a_secret_reset_meanwhile(shop):
    from logto_m2m_django.oauth import validator as v

    application = get_application_model()
    old = slow_hash(shop.secret)
    application.objects.filter(pk=shop.app.pk).update(client_secret=old)
    rows = v._load_client(shop.client_id)
    application.objects.filter(pk=shop.app.pk).update(client_secret="")  # revoked after the read
    v._upgrade_slow_hash(rows[0], None, shop.secret)
    assert application.objects.get(pk=shop.app.pk).client_secret == ""


def test_check_runs_with_the_database_checks(shop, capsys):
    get_application_model().objects.filter(pk=shop.app.pk).update(client_secret=slow_hash(shop.secret))
    call_command("check", "--database", "default", "--tag", "database")
    assert "logto_m2m.W033" in capsys.readouterr().err


def test_check_passes_before_the_tables_exist(tmp_path):
    """`migrate` runs the database checks on an empty database before it creates the tables."""
    import os
    import subprocess
    import sys

    from tests.e2e_support import REPO

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DJANGO_SETTINGS_MODULE="example_project.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'new.sqlite3'}")
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
