"""Organizations (Logto's tenants of the customer's product), their scopes and roles, and app membership.

An M2M application is a member of an organization and holds organization roles there; a token
requested with ``organization_id`` is bound to that organization (see ``organization_grants``).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .._internal.compat import check_constraint
from ._fields import new_id, validate_custom_data
from .applications import M2MApplication
from .resources import Scope
from .roles import RoleType

#: The audience of a plain organization token (Logto's ``buildOrganizationUrn``).
ORGANIZATION_URN_PREFIX = "urn:logto:organization:"


def organization_urn(organization_id: str) -> str:
    return f"{ORGANIZATION_URN_PREFIX}{organization_id}"


class Organization(models.Model):
    id = models.CharField(primary_key=True, max_length=21, default=new_id, editable=False)
    name = models.CharField(_("name"), max_length=128)
    description = models.CharField(_("description"), max_length=256, blank=True, null=True)
    custom_data = models.JSONField(
        _("custom data"),
        default=dict,
        blank=True,
        validators=[validate_custom_data],
        help_text=_("A JSON object of your own (Logto's customData)."),
    )
    applications = models.ManyToManyField(
        M2MApplication,
        through="OrganizationMembership",
        related_name="organizations",
        blank=True,
        verbose_name=_("member applications"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ("-created_at", "id")
        constraints = [check_constraint(condition=~models.Q(name=""), name="logto_m2m_organization_name_set")]

    def __str__(self) -> str:
        return self.name

    @property
    def audience(self) -> str:
        return organization_urn(self.id)


class OrganizationScope(models.Model):
    """A permission that exists only inside organizations (not tied to an API resource)."""

    id = models.CharField(primary_key=True, max_length=21, default=new_id, editable=False)
    name = models.CharField(_("name"), max_length=128, unique=True)
    description = models.CharField(_("description"), max_length=256, blank=True, null=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("organization permission")
        verbose_name_plural = _("organization permissions")
        ordering = ("name",)
        constraints = [check_constraint(condition=~models.Q(name=""), name="logto_m2m_org_scope_name_set")]

    def __str__(self) -> str:
        return self.name


class OrganizationRoleQuerySet(models.QuerySet["OrganizationRole"]):
    def machine_to_machine(self) -> OrganizationRoleQuerySet:
        return self.filter(type=RoleType.MACHINE_TO_MACHINE)


class OrganizationRole(models.Model):
    """A role inside organizations: organization scopes and, for organization-level API tokens, resource scopes."""

    id = models.CharField(primary_key=True, max_length=21, default=new_id, editable=False)
    name = models.CharField(_("name"), max_length=128, unique=True)
    description = models.CharField(_("description"), max_length=256, blank=True, null=True)
    type = models.CharField(
        _("type"),
        max_length=32,
        choices=RoleType.choices,
        default=RoleType.MACHINE_TO_MACHINE,
        help_text=_("Only machine-to-machine roles can be given to applications."),
    )
    scopes = models.ManyToManyField(
        OrganizationScope, related_name="roles", blank=True, verbose_name=_("organization permissions")
    )
    resource_scopes = models.ManyToManyField(
        Scope, related_name="organization_roles", blank=True, verbose_name=_("API resource permissions")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = OrganizationRoleQuerySet.as_manager()

    class Meta:
        verbose_name = _("organization role")
        verbose_name_plural = _("organization roles")
        ordering = ("name",)
        constraints = [
            check_constraint(condition=~models.Q(name=""), name="logto_m2m_org_role_name_set"),
            check_constraint(
                condition=models.Q(type__in=["MachineToMachine", "User"]), name="logto_m2m_org_role_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class OrganizationMembership(models.Model):
    """An application's membership of an organization, and the organization roles it holds there.

    The roles hang off the membership row, so the database itself refuses a role for a non-member
    and removing the membership removes the roles (Logto's composite foreign key).
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("organization")
    )
    application = models.ForeignKey(
        M2MApplication,
        on_delete=models.CASCADE,
        related_name="organization_memberships",
        verbose_name=_("application"),
    )
    roles = models.ManyToManyField(
        OrganizationRole, related_name="memberships", blank=True, verbose_name=_("organization roles")
    )
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("member application")
        verbose_name_plural = _("member applications")
        ordering = ("created_at", "pk")
        constraints = [
            models.UniqueConstraint(fields=["organization", "application"], name="logto_m2m_org_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.application} in {self.organization}"
