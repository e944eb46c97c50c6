"""M2M roles: named bundles of scopes, assigned to M2M applications."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .._internal.compat import check_constraint
from ._fields import new_id
from ._notify import AnnouncingQuerySet
from .resources import Scope


class RoleType(models.TextChoices):
    MACHINE_TO_MACHINE = "MachineToMachine", _("Machine-to-machine")
    USER = "User", _("User")


class RoleQuerySet(AnnouncingQuerySet["Role"]):
    def machine_to_machine(self) -> RoleQuerySet:
        return self.filter(type=RoleType.MACHINE_TO_MACHINE)


class Role(models.Model):
    id = models.CharField(primary_key=True, max_length=21, default=new_id, editable=False)
    name = models.CharField(_("name"), max_length=128, unique=True)
    description = models.CharField(_("description"), max_length=128, blank=True, default="")
    type = models.CharField(
        _("type"), max_length=32, choices=RoleType.choices, default=RoleType.MACHINE_TO_MACHINE, editable=False
    )
    is_default = models.BooleanField(
        _("default role"), default=False, help_text=_("Logto's flag for user roles; it has no effect on M2M roles.")
    )
    scopes = models.ManyToManyField(Scope, related_name="roles", blank=True, verbose_name=_("permissions"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = RoleQuerySet.as_manager()

    class Meta:
        verbose_name = _("M2M role")
        verbose_name_plural = _("M2M roles")
        ordering = ("name",)
        constraints = [
            check_constraint(condition=~models.Q(name=""), name="logto_m2m_role_name_set"),
            check_constraint(
                condition=models.Q(type__in=["MachineToMachine", "User"]), name="logto_m2m_role_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name
