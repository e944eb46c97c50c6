"""Creating M2M applications and secrets: the one place that knows how.

Used by the admin, the ``m2m`` management command and the Management API.
Secret values are returned to the caller once and never stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from oauth2_provider.models import get_application_model

from .grant_cache import announce_change
from .models import ApplicationSecret, M2MApplication, Resource, Role, Scope
from .secrets import generate_id, generate_secret, hash_secret


@transaction.atomic
def create_application(
    name: str,
    *,
    description: str = "",
    roles: Iterable[Role] = (),
    client_id: str | None = None,
    custom_data: dict[str, Any] | None = None,
) -> tuple[M2MApplication, str]:
    """A confidential client-credentials DOT application with its M2M record.

    Returns the record and the default secret in plain text (shown once).
    """
    secret = generate_secret()
    application = get_application_model().objects.create(
        name=name,
        client_id=client_id or generate_id(),
        client_type="confidential",
        authorization_grant_type="client-credentials",
        # DOT hashes it on save with OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"].
        client_secret=secret,
        hash_client_secret=True,
        redirect_uris="",
    )
    m2m = M2MApplication.objects.create(application=application, description=description, custom_data=custom_data or {})
    role_list = list(roles)
    if role_list:
        m2m.roles.set(role_list)
    return m2m, secret


@transaction.atomic
def reset_default_secret(m2m: M2MApplication) -> str:
    """Replace the application's default secret; returns the new value (shown once)."""
    secret = generate_secret()
    application = m2m.application
    application.client_secret = secret  # hashed by DOT's ClientSecretField on save
    application.save(update_fields=["client_secret", "updated"])
    return secret


@transaction.atomic
def revoke_default_secret(m2m: M2MApplication) -> bool:
    """Delete DOT's own secret (Logto's legacy secret): its value stops working on the next token request.

    Returns False when the application has none. Nothing of it is kept: an operator deleting a leaked
    secret relies on that (Logto replaces it with an internal value nobody knows). Named secrets stay.
    """
    application_model = get_application_model()
    application = application_model.objects.select_for_update().only("pk", "client_secret").get(pk=m2m.application_id)
    if not application.client_secret:
        return False
    # update() skips DOT's ClientSecretField.pre_save, which would hash the empty string;
    # an empty hash matches no secret (see oauth.validator.authenticate).
    application_model.objects.filter(pk=application.pk).update(client_secret="")
    announce_change()  # DOT's queryset sends no signal: every process must drop the old secret
    m2m.application.client_secret = ""
    return True


def add_secret(m2m: M2MApplication, name: str, expires_at: datetime | None = None) -> tuple[ApplicationSecret, str]:
    """A named secret (Logto's application secret); returns it and its value (shown once)."""
    secret = generate_secret()
    row = ApplicationSecret.objects.create(
        application=m2m, name=name, secret_hash=hash_secret(secret), expires_at=expires_at
    )
    return row, secret


def effective_permissions(m2m: M2MApplication) -> dict[Resource, list[str]]:
    """What token requests of this application can be granted, per resource."""
    scopes = (
        Scope.objects.filter(roles__applications=m2m)
        .select_related("resource")
        .distinct()
        .order_by("resource__name", "name")
    )
    result: dict[Resource, list[str]] = {}
    for scope in scopes:
        result.setdefault(scope.resource, []).append(scope.name)
    return result
