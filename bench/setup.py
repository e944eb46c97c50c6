"""Creates the benchmark's data: ``python -m bench.setup`` (or ``--rotate ES256``).

- the shopping API of Logto's quick start, and an API with 100 scopes (``s0`` .. ``s99``);
- this package's M2M application holding a role on each (its secret hashed with this package's HMAC);
- an equivalent django-oauth-toolkit application whose secret is hashed with DOT's default (PBKDF2),
  and a DOT AccessToken row with scope ``read`` for DOT's ``OAuth2Authentication``;
- the signing key; its public key is written to ``BENCH_WORKDIR`` for simplejwt.

Credentials go to ``$BENCH_WORKDIR/fixture.json`` for the measuring processes.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from cryptography.hazmat.primitives import serialization  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402
from oauth2_provider.models import get_access_token_model, get_application_model  # noqa: E402

from logto_m2m_django.keys import key_store  # noqa: E402
from logto_m2m_django.models import Resource, Role, Scope  # noqa: E402
from logto_m2m_django.provisioning import create_application  # noqa: E402

SHOP = "https://shopping.api"
SCOPED = "https://scopes.bench"
SCOPE_COUNT = 100


def workdir() -> Path:
    return Path(os.environ["BENCH_WORKDIR"])


def write_public_key(algorithm: str) -> None:
    material = key_store.signing_material()
    assert material.algorithm == algorithm, (material.algorithm, algorithm)
    pem = material.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (workdir() / f"public-{algorithm}.pem").write_bytes(pem)


def create() -> dict[str, Any]:
    call_command("migrate", verbosity=0, interactive=False)
    shop = Resource.objects.create(name="Online shopping", indicator=SHOP)
    read = Scope.objects.create(resource=shop, name="read:products")
    Scope.objects.create(resource=shop, name="write:products")
    reader = Role.objects.create(name="Shop reader")
    reader.scopes.add(read)

    scoped = Resource.objects.create(name="Scopes", indicator=SCOPED)
    many = Scope.objects.bulk_create([Scope(resource=scoped, name=f"s{i}") for i in range(SCOPE_COUNT)])
    holder = Role.objects.create(name="Scope holder")
    holder.scopes.add(*many)

    m2m, secret = create_application("Bench client", roles=[reader, holder])

    # django-oauth-toolkit as teams deploy it: its default secret hashing (PBKDF2), set explicitly
    # because this project's OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"] is this package's HMAC.
    dot_secret = secrets.token_urlsafe(32)
    application_model = get_application_model()
    dot_app = application_model.objects.create(
        name="DOT bench client",
        client_type=application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application_model.GRANT_CLIENT_CREDENTIALS,
        client_secret=make_password(dot_secret, hasher="pbkdf2_sha256"),
        hash_client_secret=True,
        redirect_uris="",
    )
    dot_token = secrets.token_urlsafe(30)
    get_access_token_model().objects.create(
        application=dot_app, token=dot_token, expires=timezone.now() + timedelta(days=1), scope="read"
    )
    write_public_key(os.environ.get("BENCH_ALG", "ES384"))
    return {
        "client_id": m2m.client_id,
        "secret": secret,
        "dot_client_id": dot_app.client_id,
        "dot_secret": dot_secret,
        "dot_hasher": dot_app.client_secret.split("$", 1)[0],
        "dot_access_token": dot_token,
        "audience": SHOP,
        "scoped_audience": SCOPED,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rotate", help="make a new key of this algorithm the Current one")
    args = parser.parse_args()
    if args.rotate:
        key_store.rotate(args.rotate)
        key_store.invalidate()
        write_public_key(args.rotate)
        return
    fixture = create()
    (workdir() / "fixture.json").write_text(json.dumps(fixture, indent=2))


if __name__ == "__main__":
    main()
