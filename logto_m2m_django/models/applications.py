"""M2M applications: a django-oauth-toolkit Application plus its roles and named secrets."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings

from .._internal.compat import check_constraint
from ._fields import validate_custom_data
from ._notify import AnnouncingQuerySet
from .roles import Role


class M2MApplicationQuerySet(AnnouncingQuerySet["M2MApplication"]):
    def enabled(self) -> M2MApplicationQuerySet:
        return self.filter(is_enabled=True)


class M2MApplication(models.Model):
    """This package's record of a machine-to-machine client.

    The client itself (``client_id``, the hashed default secret, the grant
    type) is django-oauth-toolkit's ``Application``; this row adds what DOT
    lacks: a description, an on/off switch and the roles.
    """

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="m2m",
        verbose_name=_("OAuth application"),
    )
    description = models.TextField(_("description"), blank=True, default="")
    is_enabled = models.BooleanField(
        _("enabled"), default=True, help_text=_("A disabled application gets no tokens (unauthorized_client).")
    )
    roles = models.ManyToManyField(Role, related_name="applications", blank=True, verbose_name=_("roles"))
    custom_data = models.JSONField(
        _("custom data"),
        default=dict,
        blank=True,
        validators=[validate_custom_data],
        help_text=_(
            "A JSON object of your own (Logto's customData), e.g. the tenant and plan; "
            "the custom claims hook receives it."
        ),
    )
    #: Logto application fields this package stores but does not act on
    #: (oidcClientMetadata, customClientMetadata, isThirdParty, ...), keyed by their Logto names.
    logto_metadata = models.JSONField(_("Logto metadata"), default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("default secret last used"), null=True, blank=True, editable=False)

    objects = M2MApplicationQuerySet.as_manager()

    class Meta:
        verbose_name = _("M2M application")
        verbose_name_plural = _("M2M applications")
        ordering = ("-created_at",)
        permissions = [
            # Adding secrets to, or granting roles with Management API scopes to, any application: scope `all`.
            ("manage_management_api_access", _("Can give applications access to the Management API")),
            ("use_token_inspector", _("Can use the token inspector")),
        ]

    def __str__(self) -> str:
        return self.application.name or self.application.client_id

    @property
    def client_id(self) -> str:
        return str(self.application.client_id)

    @property
    def name(self) -> str:
        return str(self.application.name)


class ApplicationSecretQuerySet(AnnouncingQuerySet["ApplicationSecret"]):
    def active(self, now: datetime | None = None) -> ApplicationSecretQuerySet:
        now = now or timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class ApplicationSecret(models.Model):
    """A named secret of an application (Logto's "application secrets"), stored as a hash only."""

    application = models.ForeignKey(M2MApplication, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(_("name"), max_length=256)
    secret_hash = models.CharField(_("secret hash"), max_length=256, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    objects = ApplicationSecretQuerySet.as_manager()

    class Meta:
        verbose_name = _("application secret")
        verbose_name_plural = _("application secrets")
        ordering = ("created_at",)
        constraints = [
            models.UniqueConstraint(fields=["application", "name"], name="logto_m2m_secret_name_unique"),
            check_constraint(condition=~models.Q(name=""), name="logto_m2m_secret_name_set"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
