"""The token activity log: one row per token request, success or failure."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .applications import M2MApplication


class Outcome(models.TextChoices):
    SUCCESS = "success", _("Success")
    FAILURE = "failure", _("Failure")


class TokenActivity(models.Model):
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    application = models.ForeignKey(
        M2MApplication,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="token_activity",
        verbose_name=_("application"),
    )
    client_id = models.CharField(_("client ID (as sent)"), max_length=64, blank=True, default="")
    resource = models.CharField(_("resource"), max_length=256, blank=True, default="")
    organization_id = models.CharField(_("organization"), max_length=128, blank=True, default="")
    scopes = models.CharField(_("granted scopes"), max_length=2048, blank=True, default="")
    requested_scopes = models.CharField(_("requested scopes"), max_length=2048, blank=True, default="")
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    error = models.CharField(_("error code"), max_length=64, blank=True, default="")
    status_code = models.PositiveSmallIntegerField(_("HTTP status"))
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=256, blank=True, default="")
    #: The named secret that authenticated the request; empty when none did (or DOT's legacy secret did).
    secret_name = models.CharField(_("secret"), max_length=256, blank=True, default="")

    class Meta:
        verbose_name = _("token request")
        verbose_name_plural = _("token requests")
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=["application", "-created_at"], name="logto_m2m_activity_app"),
            models.Index(fields=["outcome", "-created_at"], name="logto_m2m_activity_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.client_id} {self.outcome}"

    @property
    def not_granted_scopes(self) -> list[str]:
        """The scopes asked for but not in the token (unknown, not held, or the request failed)."""
        granted = set(self.scopes.split())
        return [s for s in dict.fromkeys(self.requested_scopes.split()) if s not in granted]
