"""Organizations in the admin: members and their roles inline, organization roles with both kinds of
scopes, organization scopes, and each application's organizations on its own page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, ManyToManyField, QuerySet
from django.forms import ModelMultipleChoiceField
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from ..conf import m2m_settings
from ..models import (
    M2MApplication,
    Organization,
    OrganizationMembership,
    OrganizationRole,
    OrganizationScope,
    RoleType,
    Scope,
)
from ..models.organizations import ORGANIZATION_URN_PREFIX
from ._common import admin_change_url

MANAGEMENT_SCOPE_REFUSED = _(
    "Organization roles can't hold Management API permissions: the Management API refuses organization "
    "tokens, and it is not an organization's API."
)


class MembershipInline(admin.TabularInline):
    """The organization's member applications and the organization roles each holds there."""

    model = OrganizationMembership
    fields = ("application", "roles")
    autocomplete_fields = ("application",)
    filter_horizontal = ("roles",)
    extra = 0
    verbose_name = _("member application")
    verbose_name_plural = _("member applications and their organization roles")

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrganizationMembership]:
        return super().get_queryset(request).select_related("application__application").prefetch_related("roles")

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField | None:
        if db_field.name == "roles":
            # Only machine-to-machine organization roles can be given to applications (as in Logto).
            kwargs["queryset"] = OrganizationRole.objects.machine_to_machine().order_by("name")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "description", "member_count", "created_at")
    search_fields = ("name", "id", "description")
    inlines = (MembershipInline,)
    readonly_fields = ("id", "token_audience", "created_at")
    fields = ("name", "description", "custom_data", "id", "token_audience", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return super().get_queryset(request).annotate(_members=Count("memberships", distinct=True))

    @admin.display(description=_("member applications"), ordering="_members")
    def member_count(self, obj: Organization) -> int:
        return int(getattr(obj, "_members", 0))

    @admin.display(description=_("organization token audience"))
    def token_audience(self, obj: Organization) -> SafeString:
        if not obj.pk:
            return format_html("<span class='m2m-muted'>{}</span>", _("Known once saved."))
        return format_html(
            "<code>{}</code><br><span class='m2m-muted'>{}</span>",
            obj.audience,
            _(
                "A member asks POST /oidc/token with organization_id={} for an organization token; "
                "with a resource too, it gets that API's token carrying the organization_id claim."
            ).format(obj.pk),
        )


class OrganizationRoleForm(forms.ModelForm):
    class Meta:
        model = OrganizationRole
        fields = ("name", "description", "type", "scopes", "resource_scopes")

    def clean_resource_scopes(self) -> object:
        scopes = self.cleaned_data.get("resource_scopes")
        management = m2m_settings.MANAGEMENT_API_INDICATOR
        # Not even for superusers (the Management API would refuse the token anyway).
        if scopes is not None and any(scope.resource.indicator == management for scope in scopes):
            raise forms.ValidationError(MANAGEMENT_SCOPE_REFUSED, code="management_api_permission")
        return scopes


class OrganizationRoleAdmin(admin.ModelAdmin):
    form = OrganizationRoleForm
    list_display = ("name", "type", "scope_count", "resource_scope_count", "description")
    list_filter = ("type",)
    search_fields = ("name", "description")
    filter_horizontal = ("scopes", "resource_scopes")
    fields = ("name", "description", "type", "scopes", "resource_scopes")

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrganizationRole]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _scopes=Count("scopes", distinct=True),
                _resource_scopes=Count("resource_scopes", distinct=True),
            )
        )

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField | None:
        if db_field.name == "resource_scopes":
            # Each choice reads "indicator · scope"; one query for all of them.
            # The Management API's scopes are not offered (see OrganizationRoleForm).
            kwargs["queryset"] = (
                Scope.objects.select_related("resource")
                .exclude(resource__indicator=m2m_settings.MANAGEMENT_API_INDICATOR)
                .order_by("resource__indicator", "name")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: OrganizationRole, form: Any, change: bool) -> None:
        if change and obj.type != RoleType.MACHINE_TO_MACHINE and obj.memberships.exists():
            # Applications hold it: a User role would silently stop granting them anything.
            obj.type = RoleType.MACHINE_TO_MACHINE
            self.message_user(
                request, _("Applications hold this role, so it stays machine-to-machine."), level="warning"
            )
        super().save_model(request, obj, form, change)

    @admin.display(description=_("organization permissions"), ordering="_scopes")
    def scope_count(self, obj: OrganizationRole) -> int:
        return int(getattr(obj, "_scopes", 0))

    @admin.display(description=_("API permissions"), ordering="_resource_scopes")
    def resource_scope_count(self, obj: OrganizationRole) -> int:
        return int(getattr(obj, "_resource_scopes", 0))


class OrganizationScopeAdmin(admin.ModelAdmin):
    list_display = ("name", "description")
    search_fields = ("name", "description")


def organizations_html(app: M2MApplication) -> SafeString:
    """The application's organizations and its organization roles there (the application's page)."""
    memberships = list(
        OrganizationMembership.objects.filter(application=app)
        .select_related("organization")
        .prefetch_related("roles")
        .order_by("organization__name")
    )
    if not memberships:
        return format_html(
            "<span class='m2m-muted'>{}</span>", _("None (memberships are managed on the organization's page)")
        )
    return format_html(
        "<ul class='m2m-holders'>{}</ul>",
        format_html_join(
            "",
            "<li><a href='{}'>{}</a> <code>{}</code>: {}</li>",
            (
                (
                    admin_change_url(m.organization),
                    m.organization.name,
                    m.organization.pk,
                    ", ".join(sorted(role.name for role in m.roles.all())) or _("no organization roles"),
                )
                for m in memberships
            ),
        ),
    )


def _organization_name(organization_id: str) -> str:
    organization = Organization.objects.filter(pk=organization_id).first() if len(organization_id) <= 21 else None
    if organization is None:
        return _("%(id)s (no such organization here)") % {"id": organization_id}
    return f"{organization.name} ({organization.pk})"


def organization_token_note(claims: dict[str, Any], audiences: list[str]) -> tuple[bool, str] | None:
    """What the token inspector says about an organization token: (acceptable, explanation), or None for a
    token bound to no organization. Logto's two kinds: the ``urn:logto:organization:`` audience alone, or an
    API audience with the ``organization_id`` claim; never both."""
    urns = [aud for aud in audiences if aud.startswith(ORGANIZATION_URN_PREFIX)]
    claim = claims.get("organization_id")
    if not urns and claim is None:
        return None
    if urns and claim is not None:
        return False, str(
            _(
                "An organization audience and an organization_id claim: no Logto token has both, so "
                "HasOrganization and HasOrganizationResource refuse it."
            )
        )
    if m2m_settings.MANAGEMENT_API_INDICATOR in audiences:
        return False, str(_("The Management API does not accept organization tokens."))
    if urns:
        return True, _(
            "An organization token of %(org)s: HasOrganization accepts it in views about that organization; its "
            "scopes are the organization scopes of the app's organization roles there."
        ) % {"org": _organization_name(urns[0][len(ORGANIZATION_URN_PREFIX) :])}
    return True, _(
        "An organization-level API resource token of %(aud)s for %(org)s: HasOrganizationResource accepts it in "
        "that API's views about that organization; its scopes are the API scopes of the app's organization roles "
        "there (its global roles do not count)."
    ) % {"aud": ", ".join(audiences) or "?", "org": _organization_name(str(claim))}


def register(site: admin.AdminSite) -> None:
    site.register(Organization, OrganizationAdmin)
    site.register(OrganizationRole, OrganizationRoleAdmin)
    site.register(OrganizationScope, OrganizationScopeAdmin)
