"""Why a signing key can't be deleted, said in the admin instead of "you don't have permission".

The key store refuses to delete the Current key (it signs new tokens) and the last key. Django's
admin would present both as a missing permission, even to a superuser; these helpers answer a
user who may delete signing keys with the real reason and send them back to the list.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin.actions import delete_selected
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from ..models import KeyStatus, SigningKey

CURRENT_REASON = (
    "The Current key signs new tokens and can't be deleted: rotate first (it becomes Previous), "
    "then delete it once the tokens it signed have expired."
)
LAST_REASON = "The last signing key can't be deleted: nothing could sign or validate tokens."


def undeletable_reason(keys: QuerySet[SigningKey]) -> str | None:
    """Why deleting ``keys`` would be refused, or None."""
    if keys.filter(status=KeyStatus.CURRENT).exists():
        return _(CURRENT_REASON)
    if not SigningKey.objects.exclude(pk__in=keys.values("pk")).exists():
        return _(LAST_REASON)
    return None


def _back(model_admin: Any, request: HttpRequest, reason: str) -> HttpResponseRedirect:
    model_admin.message_user(request, reason, messages.ERROR)
    opts = model_admin.opts
    return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))


def refuse_delete_view(model_admin: Any, request: HttpRequest, object_id: str) -> HttpResponseRedirect | None:
    """The redirect with the reason when this key can't be deleted by a user who may delete keys."""
    if not model_admin.has_delete_permission(request):
        return None  # no permission at all: Django's 403 is the truth
    reason = undeletable_reason(SigningKey.objects.filter(pk=object_id))
    return _back(model_admin, request, reason) if reason else None


def delete_selected_keys(model_admin: Any, request: HttpRequest, queryset: QuerySet[SigningKey]) -> Any:
    """Django's "Delete selected" action, preceded by the key store's rules."""
    reason = undeletable_reason(queryset)
    if reason:
        return _back(model_admin, request, reason)
    return delete_selected(model_admin, request, queryset)


delete_selected_keys.short_description = delete_selected.short_description  # type: ignore[attr-defined]
delete_selected_keys.allowed_permissions = ("delete",)  # type: ignore[attr-defined]
