"""Signing keys. Private keys are stored encrypted; see :mod:`logto_m2m_django.keys`."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .._internal.compat import check_constraint
from ..conf import SUPPORTED_ALGORITHMS


class KeyStatus(models.TextChoices):
    CURRENT = "current", _("Current")
    NEXT = "next", _("Next")
    PREVIOUS = "previous", _("Previous")


class SigningKey(models.Model):
    kid = models.CharField(_("key ID"), max_length=64, unique=True, help_text=_("RFC 7638 thumbprint"))
    algorithm = models.CharField(_("algorithm"), max_length=8, choices=[(a, a) for a in SUPPORTED_ALGORITHMS])
    status = models.CharField(_("status"), max_length=16, choices=KeyStatus.choices)
    public_jwk = models.JSONField(_("public key (JWK)"))
    private_key_encrypted = models.TextField(_("private key (encrypted)"), editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    #: A Next key staged with a grace period signs from this time on (the key store promotes it);
    #: None for a Next key promoted by hand. Kept after promotion: when the key started signing.
    effective_at = models.DateTimeField(
        _("effective at"),
        null=True,
        blank=True,
        help_text=_("When a staged Next key becomes Current by itself (grace-period rotation)."),
    )

    class Meta:
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="current"), name="logto_m2m_one_current_key"
            ),
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="next"), name="logto_m2m_one_next_key"
            ),
            check_constraint(
                condition=models.Q(status__in=["current", "next", "previous"]), name="logto_m2m_key_status_valid"
            ),
            check_constraint(
                condition=models.Q(algorithm__in=list(SUPPORTED_ALGORITHMS)), name="logto_m2m_key_algorithm_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kid[:12]}… ({self.algorithm}, {self.get_status_display()})"
