"""M2M roles: a scope picker labelled by resource, the apps holding the role, its permissions."""

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
from ..models import Resource, Role, Scope
from ._common import MANAGEMENT_API_DENIED, admin_change_url, may_manage_management_api, permissions_html, template

#: Logto reserves role names with this prefix for itself (`role.internal_role_violation`).
INTERNAL_PREFIX = "#internal:"


class RoleForm(forms.ModelForm):
    #: Set by RoleAdmin.get_form for the requesting user.
    may_grant_management_api = False

    class Meta:
        model = Role
        fields = ("name", "description", "scopes")

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"])
        if name.startswith(INTERNAL_PREFIX):
            raise forms.ValidationError(
                _("Role names starting with “%(prefix)s” are reserved (Logto keeps them for its own roles)."),
                code="internal_role",
                params={"prefix": INTERNAL_PREFIX},
            )
        return name

    def clean_scopes(self) -> object:
        scopes = self.cleaned_data.get("scopes")
        if scopes is None or self.may_grant_management_api or self.instance.pk is None:
            return scopes
        held = set(self.instance.scopes.values_list("pk", flat=True))
        added = [scope for scope in scopes if scope.pk not in held]
        management = m2m_settings.MANAGEMENT_API_INDICATOR
        # A role already held by applications passes a new Management API scope to all of them.
        if any(scope.resource.indicator == management for scope in added) and self.instance.applications.exists():
            raise forms.ValidationError(MANAGEMENT_API_DENIED, code="management_api_permission")
        return scopes


class RoleAdmin(admin.ModelAdmin):
    form = RoleForm
    change_form_template = template("change_form.html")
    list_display = ("name", "description", "permission_count", "application_count", "type")
    list_filter = ("type",)
    search_fields = ("name", "description")
    filter_horizontal = ("scopes",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        return (
            super()
            .get_queryset(request)
            .annotate(_scope_count=Count("scopes", distinct=True), _app_count=Count("applications", distinct=True))
        )

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField | None:
        if db_field.name == "scopes":
            # Each choice reads "indicator · scope"; one query for all of them.
            kwargs["queryset"] = Scope.objects.select_related("resource").order_by("resource__indicator", "name")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.may_grant_management_api = may_manage_management_api(request)  # type: ignore[attr-defined]
        return form

    def get_fieldsets(self, request: HttpRequest, obj: Role | None = None) -> Any:
        main = (None, {"fields": ("name", "description", "scopes")})
        if obj is None:
            return [main]
        return [
            main,
            (_("Usage"), {"fields": ("type", "effective_permissions", "holders", "created_at")}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Role | None = None) -> Any:
        if obj is None:
            return ()
        return ("type", "effective_permissions", "holders", "created_at")

    @admin.display(description=_("permissions"), ordering="_scope_count")
    def permission_count(self, obj: Role) -> int:
        return int(getattr(obj, "_scope_count", 0))

    @admin.display(description=_("applications"), ordering="_app_count")
    def application_count(self, obj: Role) -> int:
        return int(getattr(obj, "_app_count", 0))

    @admin.display(description=_("effective permissions"))
    def effective_permissions(self, obj: Role) -> SafeString:
        grouped: dict[Resource, list[str]] = {}
        for scope in obj.scopes.select_related("resource").order_by("resource__name", "name"):
            grouped.setdefault(scope.resource, []).append(scope.name)
        return permissions_html(grouped)

    @admin.display(description=_("applications holding this role"))
    def holders(self, obj: Role) -> SafeString:
        apps = list(obj.applications.select_related("application").order_by("application__name"))
        if not apps:
            return format_html("<span class='m2m-muted'>{}</span>", _("None"))
        return format_html(
            "<ul class='m2m-holders'>{}</ul>",
            format_html_join(
                "",
                "<li><a href='{}'>{}</a> <code>{}</code></li>",
                ((admin_change_url(app), app.name, app.client_id) for app in apps),
            ),
        )
