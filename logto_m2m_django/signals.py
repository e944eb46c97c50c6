"""Keep the in-process caches (signing keys, clients and grants) in step with changes made through the ORM."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from oauth2_provider.models import get_application_model

from .grant_cache import announce_change
from .keys import announce_key_change, key_store
from .models import ApplicationSecret, M2MApplication, Resource, Role, Scope, SigningKey
from .models._notify import QUIET_FIELDS


@receiver(post_save, sender=SigningKey, dispatch_uid="logto_m2m_key_saved")
@receiver(post_delete, sender=SigningKey, dispatch_uid="logto_m2m_key_deleted")
def _signing_key_changed(**kwargs: Any) -> None:
    # Also for rows changed outside the key store (the shell, a fixture): every process is told.
    announce_key_change()
    key_store.invalidate()
    transaction.on_commit(key_store.invalidate)


def _grants_changed(sender: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """A row the token endpoint reads (or caches) was saved or deleted: every process is told."""
    if kwargs.get("raw"):
        return  # loaddata: the fixture's rows are read afresh (announced by the load's own writes)
    if update_fields is not None and set(update_fields) <= QUIET_FIELDS:
        return
    announce_change()


def _links_changed(sender: Any, action: str, **kwargs: Any) -> None:
    """Application-role or role-scope links changed through ``add``, ``remove``, ``set`` or ``clear``."""
    if action in ("post_add", "post_remove", "post_clear"):
        announce_change()


def connect_grant_signals() -> None:
    """Connect the receivers for every model the token endpoint reads (idempotent)."""
    # Not the link tables' auto-created through models: Django sends them no pre/post save or delete signals
    # (Model.save_base and Collector.delete skip ``auto_created`` models), so a row written through
    # ``M2MApplication.roles.through.objects`` directly is not announced; ``m2m_changed`` below covers the
    # related managers, and the Management API announces the link rows it deletes itself.
    watched = (get_application_model(), M2MApplication, ApplicationSecret, Role, Resource, Scope)
    for model in watched:
        uid = f"logto_m2m_grants_{model._meta.label_lower}"
        post_save.connect(_grants_changed, sender=model, dispatch_uid=f"{uid}_saved")
        post_delete.connect(_grants_changed, sender=model, dispatch_uid=f"{uid}_deleted")
    for through in (M2MApplication.roles.through, Role.scopes.through):
        m2m_changed.connect(_links_changed, sender=through, dispatch_uid=f"logto_m2m_links_{through._meta.label_lower}")


connect_grant_signals()
