"""``manage.py m2m bootstrap``: a Management API client.

Ensures the management resource, its built-in scopes and the "Management API access" role (never
duplicated), then creates a new M2M application holding the role and prints its credentials once.
With ``--scope`` (repeatable) the application holds exactly those scopes instead, through a role per
scope set (named after the set, reused when it exists).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ..conf import m2m_settings
from ..keys import key_store
from ..models import Role, RoleType
from .builtin import (
    BUILTIN_SCOPES,
    MANAGEMENT_SCOPE,
    ensure_builtin_scopes,
    ensure_management_resource,
    ensure_management_role,
    management_indicator,
)
from .services import create_m2m_application

#: Roles made by ``bootstrap --scope`` are named after their scope set: this prefix, then the scopes sorted.
SCOPED_ROLE_PREFIX = "Management API: "


def scoped_role(scopes: list[str]) -> Role:
    """The M2M role holding exactly ``scopes`` of the management resource, created when missing."""
    unknown = [name for name in scopes if name not in BUILTIN_SCOPES]
    if unknown:
        raise ValueError(f"unknown Management API scope {unknown[0]!r}")
    if scopes == [MANAGEMENT_SCOPE]:
        return ensure_management_role()
    resource, _ = ensure_management_resource()
    by_name = ensure_builtin_scopes(resource)
    name = SCOPED_ROLE_PREFIX + " ".join(scopes)
    role, created = Role.objects.get_or_create(
        name=name,
        defaults={"description": f"Management API scopes: {' '.join(scopes)}", "type": RoleType.MACHINE_TO_MACHINE},
    )
    wanted = {by_name[scope].pk for scope in scopes}
    if not created:
        held = set(role.scopes.values_list("pk", flat=True))
        if role.type != RoleType.MACHINE_TO_MACHINE or held != wanted:
            # Someone changed it: reusing it would grant something else than what was asked.
            raise ValueError(f"the role {name!r} exists but does not hold exactly those scopes")
        return role
    role.scopes.add(*(by_name[scope] for scope in scopes))
    return role


def bootstrap(name: str, scopes: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """Create the application holding ``scopes`` (default ``all``); its credentials and where to use them."""
    wanted = sorted(set(scopes)) or [MANAGEMENT_SCOPE]
    with transaction.atomic():
        role = scoped_role(wanted)
        m2m, secret = create_m2m_application(name, description="Calls the Management API", roles=[role])
    key_store.signing_material()  # the first signing key, so that tokens can be issued at once
    issuer = m2m_settings.ISSUER or ""
    return {
        "client_id": m2m.client_id,
        "client_secret": secret,
        "resource": management_indicator(),
        "scope": " ".join(wanted),
        "token_endpoint": f"{issuer}/token",
        "issuer": issuer,
        "api_base_url": f"{issuer.removesuffix('/oidc')}/api",
    }


def run_bootstrap(command: BaseCommand, **options: Any) -> None:
    name = options.get("name") or "Management API client"
    try:
        data = bootstrap(name, options.get("scope") or ())
    except ValueError as exc:
        raise CommandError(f"{exc}. Built-in scopes: {', '.join(BUILTIN_SCOPES)}.") from exc
    if options.get("json"):
        command.stdout.write(json.dumps(data))
        return
    command.stdout.write(f"Management API: {data['resource']} (scope {data['scope']})")
    command.stdout.write(f"Application:    {name}")
    command.stdout.write(f"  App ID:       {data['client_id']}")
    command.stdout.write(f"  App secret:   {data['client_secret']}  (shown once: only its hash is stored)")
    command.stdout.write(f"Token endpoint: {data['token_endpoint']}")
    command.stdout.write(f"API base URL:   {data['api_base_url']}")
