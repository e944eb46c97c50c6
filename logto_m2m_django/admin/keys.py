"""Signing keys: list, immediate and staged rotation, deleting a key that no longer signs."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from ..conf import SUPPORTED_ALGORITHMS, m2m_settings
from ..key_rotation import parse_duration, rotate_signing_key, short_grace_period
from ..keys import KeyStoreError, key_store
from ..models import KeyStatus, SigningKey
from ._common import has_codename, template
from .key_deletion import delete_selected_keys, refuse_delete_view


class SigningKeyAdmin(admin.ModelAdmin):
    change_list_template = template("signingkey_change_list.html")
    change_form_template = template("change_form.html")
    list_display = ("kid_column", "algorithm", "status", "created_at", "effective_at")
    fields = ("kid", "algorithm", "status", "created_at", "effective_at", "public_key")
    readonly_fields = fields
    actions = ("delete_selected",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are made by rotation

    def has_change_permission(self, request: HttpRequest, obj: SigningKey | None = None) -> bool:
        return False  # a key is never edited; rotation has its own permission check

    def has_delete_permission(self, request: HttpRequest, obj: SigningKey | None = None) -> bool:
        if obj is not None and (obj.status == KeyStatus.CURRENT or SigningKey.objects.count() <= 1):
            return False  # the Current key signs, and the last key stays
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if "delete_selected" in actions:  # same action, preceded by the key store's rules (it says why)
            entry: Any = actions["delete_selected"]
            actions["delete_selected"] = (delete_selected_keys, entry[1], entry[2])
        return actions

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        return refuse_delete_view(self, request, object_id) or super().delete_view(request, object_id, extra_context)

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return has_codename(request, SigningKey, "add") and has_codename(request, SigningKey, "change")

    @admin.display(description=_("key ID"), ordering="kid")
    def kid_column(self, obj: SigningKey) -> SafeString:
        return format_html("<code>{}</code>", obj.kid)

    @admin.display(description=_("public key (JWK)"))
    def public_key(self, obj: SigningKey) -> SafeString:
        return format_html("<pre class='m2m-code'>{}</pre>", json.dumps(obj.public_jwk, indent=2, sort_keys=True))

    # Deletion goes through the key store, which refuses the Current and the last key.
    def delete_model(self, request: HttpRequest, obj: SigningKey) -> None:
        key_store.delete(obj.kid)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SigningKey]) -> None:
        for kid in queryset.values_list("kid", flat=True):
            try:
                key_store.delete(kid)
            except KeyStoreError as exc:
                self.message_user(request, f"{kid[:12]}…: {exc}", messages.ERROR)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra = {
            "can_rotate": self.has_rotate_permission(request),
            "algorithms": SUPPORTED_ALGORITHMS,
            "default_algorithm": m2m_settings.SIGNING_ALGORITHM,
            "has_next_key": SigningKey.objects.filter(status=KeyStatus.NEXT).exists(),
            "default_grace_period": _duration_text(m2m_settings.KEY_ROTATION_GRACE_PERIOD or 3600),
            "rotate_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_rotate"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        return [
            path(
                "rotate/",
                self.admin_site.admin_view(self.rotate_view),
                name=f"{opts.app_label}_{opts.model_name}_rotate",
            ),
            *super().get_urls(),
        ]

    def rotate_view(self, request: HttpRequest) -> HttpResponse:
        """Same service as ``manage.py m2m rotate-keys [--algorithm ALG] [--staged | --grace-period D]``."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_rotate_permission(request):
            raise PermissionDenied
        mode = request.POST.get("mode")
        algorithm = request.POST.get("algorithm") or m2m_settings.SIGNING_ALGORITHM
        try:
            grace = parse_duration(request.POST.get("grace_period", "")) if mode == "grace" else 0.0
            row = rotate_signing_key(algorithm, grace_period=grace, staged=mode == "staged")
        except KeyStoreError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.log_addition(request, row, [{"added": {}}])
            self.message_user(request, _rotation_message(row), messages.SUCCESS)
            warning = short_grace_period(grace)
            if warning:
                self.message_user(request, warning, messages.WARNING)
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))


def _rotation_message(row: SigningKey) -> str:
    names = {"kid": row.kid, "alg": row.algorithm}
    if row.status == KeyStatus.NEXT and row.effective_at is not None:
        text = _(
            "Key %(kid)s (%(alg)s) is staged as Next: published in the JWKS now, it signs new tokens from %(at)s "
            "UTC by itself."
        )
        return str(text % {**names, "at": f"{row.effective_at:%Y-%m-%d %H:%M:%S}"})
    if row.status == KeyStatus.NEXT:
        return str(_("Key %(kid)s (%(alg)s) is staged as Next: published in the JWKS, not signing yet.") % names)
    text = _("Key %(kid)s (%(alg)s) signs new tokens now; the previous key keeps validating the tokens it signed.")
    return str(text % names)


def _duration_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
