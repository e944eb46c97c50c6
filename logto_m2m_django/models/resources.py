"""API resources (RFC 8707 resource indicators) and their scopes."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .._internal.compat import check_constraint
from ._fields import new_id, validate_indicator, validate_scope_name
from ._notify import AnnouncingQuerySet


class ResourceQuerySet(AnnouncingQuerySet["Resource"]):
    def default(self) -> ResourceQuerySet:
        return self.filter(is_default=True)


class Resource(models.Model):
    """An API that M2M applications get tokens for, named by its indicator URI."""

    id = models.CharField(primary_key=True, max_length=21, default=new_id, editable=False)
    name = models.CharField(_("name"), max_length=256)
    indicator = models.CharField(
        _("API identifier"),
        max_length=256,
        unique=True,
        validators=[validate_indicator],
        help_text=_(
            "An absolute URI without a fragment, e.g. https://shopping.api. It becomes the "
            "token's audience (aud) and can't be changed later."
        ),
    )
    access_token_ttl = models.PositiveIntegerField(
        _("token lifetime (seconds)"), default=3600, help_text=_("Lifetime of access tokens for this API.")
    )
    is_default = models.BooleanField(
        _("default API"),
        default=False,
        help_text=_("Used when a token request names no resource. At most one API is the default."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = ResourceQuerySet.as_manager()

    class Meta:
        verbose_name = _("API resource")
        verbose_name_plural = _("API resources")
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="logto_m2m_one_default_resource"
            ),
            check_constraint(
                condition=models.Q(access_token_ttl__gte=1) & models.Q(access_token_ttl__lte=86400 * 30),
                name="logto_m2m_resource_ttl_range",
            ),
            check_constraint(condition=~models.Q(indicator=""), name="logto_m2m_resource_indicator_set"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.indicator})"


class Scope(models.Model):
    """A permission of one API resource, such as ``read:products``."""

    id = models.CharField(primary_key=True, max_length=21, default=new_id, editable=False)
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="scopes", verbose_name=_("API"))
    name = models.CharField(_("name"), max_length=256, validators=[validate_scope_name])
    description = models.TextField(_("description"), blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = AnnouncingQuerySet["Scope"].as_manager()

    class Meta:
        verbose_name = _("permission (scope)")
        verbose_name_plural = _("permissions (scopes)")
        ordering = ("resource__name", "name")
        constraints = [
            models.UniqueConstraint(fields=["resource", "name"], name="logto_m2m_scope_unique_per_resource"),
            check_constraint(condition=~models.Q(name=""), name="logto_m2m_scope_name_set"),
        ]

    def __str__(self) -> str:
        return f"{self.resource.indicator} · {self.name}"
