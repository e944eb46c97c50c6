"""Keep the in-process key cache in step with changes made through the ORM."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .keys import announce_key_change, key_store
from .models import SigningKey


@receiver(post_save, sender=SigningKey, dispatch_uid="logto_m2m_key_saved")
@receiver(post_delete, sender=SigningKey, dispatch_uid="logto_m2m_key_deleted")
def _signing_key_changed(**kwargs: Any) -> None:
    # Also for rows changed outside the key store (the shell, a fixture): every process is told.
    announce_key_change()
    key_store.invalidate()
    transaction.on_commit(key_store.invalidate)
