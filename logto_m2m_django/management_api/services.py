"""Writes of the Management API that touch more than one table.

How DOT's secret maps to Logto's secrets: an application created through the Management API (or
``m2m bootstrap``) keeps no secret on django-oauth-toolkit's ``Application``; its credential is an
application secret named ``"Default secret"``, as Logto does. An application created elsewhere (the admin,
``m2m demo``) still has DOT's own secret: that is Logto's *legacy secret*, and
``DELETE /api/applications/{id}/legacy-secret`` revokes it (``provisioning.revoke_default_secret``):
its value stops working, as in Logto.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from oauth2_provider.models import get_application_model

from ..grant_cache import announce_change
from ..models import ApplicationSecret, M2MApplication, Role
from ..provisioning import create_application

DEFAULT_SECRET_NAME = "Default secret"
LEGACY_SECRET_NAME = "Legacy secret"


def has_legacy_secret(m2m: M2MApplication) -> bool:
    return bool(m2m.application.client_secret)


def _free_name(m2m: M2MApplication, wanted: str) -> str:
    taken = set(m2m.secrets.values_list("name", flat=True))
    name, n = wanted, 1
    while name in taken:
        n += 1
        name = f"{wanted} ({n})"
    return name


@transaction.atomic
def move_legacy_secret(m2m: M2MApplication, name: str = LEGACY_SECRET_NAME) -> ApplicationSecret | None:
    """Move DOT's secret hash into a named application secret; None when there is none."""
    application = get_application_model().objects.select_for_update().get(pk=m2m.application_id)
    encoded = str(application.client_secret or "")
    if not encoded:
        return None
    row = ApplicationSecret.objects.create(application=m2m, name=_free_name(m2m, name), secret_hash=encoded)
    # update() skips DOT's ClientSecretField.pre_save, which would hash the empty string.
    get_application_model().objects.filter(pk=application.pk).update(client_secret="")
    announce_change()  # DOT's queryset sends no signal: every process must drop the old secret
    m2m.application.client_secret = ""
    return row


@transaction.atomic
def create_m2m_application(
    name: str,
    *,
    description: str = "",
    roles: Iterable[Role] = (),
    custom_data: dict[str, Any] | None = None,
    logto_metadata: dict[str, Any] | None = None,
) -> tuple[M2MApplication, str]:
    """An M2M application whose credential is its "Default secret"; returns it and the secret's value."""
    m2m, secret = create_application(name, description=description, roles=roles)
    update_fields = []
    if custom_data is not None:
        m2m.custom_data = custom_data
        update_fields.append("custom_data")
    if logto_metadata is not None:
        m2m.logto_metadata = logto_metadata
        update_fields.append("logto_metadata")
    if update_fields:
        m2m.save(update_fields=update_fields)
    move_legacy_secret(m2m, DEFAULT_SECRET_NAME)
    return m2m, secret
