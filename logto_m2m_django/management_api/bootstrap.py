"""``manage.py m2m bootstrap``: the first Management API client.

Ensures the management resource, its ``all`` scope and the "Management API access" role (never
duplicated), then creates a new M2M application holding the role and prints its credentials once.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from ..conf import m2m_settings
from ..keys import key_store
from .builtin import MANAGEMENT_SCOPE, ensure_management_role, management_indicator
from .services import create_m2m_application


def bootstrap(name: str) -> dict[str, str]:
    """Create the application; returns its credentials and where to use them."""
    with transaction.atomic():
        role = ensure_management_role()
        m2m, secret = create_m2m_application(name, description="Calls the Management API", roles=[role])
    key_store.signing_material()  # the first signing key, so that tokens can be issued at once
    issuer = m2m_settings.ISSUER or ""
    return {
        "client_id": m2m.client_id,
        "client_secret": secret,
        "resource": management_indicator(),
        "scope": MANAGEMENT_SCOPE,
        "token_endpoint": f"{issuer}/token",
        "issuer": issuer,
        "api_base_url": f"{issuer.removesuffix('/oidc')}/api",
    }


def run_bootstrap(command: BaseCommand, **options: Any) -> None:
    name = options.get("name") or "Management API client"
    data = bootstrap(name)
    if options.get("json"):
        command.stdout.write(json.dumps(data))
        return
    command.stdout.write(f"Management API: {data['resource']} (scope {data['scope']})")
    command.stdout.write(f"Application:    {name}")
    command.stdout.write(f"  App ID:       {data['client_id']}")
    command.stdout.write(f"  App secret:   {data['client_secret']}  (shown once: only its hash is stored)")
    command.stdout.write(f"Token endpoint: {data['token_endpoint']}")
    command.stdout.write(f"API base URL:   {data['api_base_url']}")
