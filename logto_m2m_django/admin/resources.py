"""API resources and their scopes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..conf import m2m_settings
from ..models import Resource, Scope
from ._common import is_management_resource, template

#: The lifetime range the database allows (logto_m2m_resource_ttl_range).
MIN_TTL, MAX_TTL = 1, 86400 * 30


class ResourceForm(forms.ModelForm):
    class Meta:
        model = Resource
        fields = ("name", "indicator", "access_token_ttl", "is_default")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ttl = self.fields.get("access_token_ttl")
        if ttl is not None:
            # Checked here so that the form says what is wrong instead of naming a database constraint.
            ttl.validators += [MinValueValidator(MIN_TTL), MaxValueValidator(MAX_TTL)]
            ttl.widget.attrs.update({"min": MIN_TTL, "max": MAX_TTL})

    def clean_is_default(self) -> bool:
        is_default = bool(self.cleaned_data.get("is_default"))
        if is_default:
            other = Resource.objects.default().exclude(pk=self.instance.pk).first()
            if other is not None:
                raise forms.ValidationError(
                    _("“%(name)s” is the default API already. Use the “Make default” action in the list to switch."),
                    code="default_taken",
                    params={"name": other.name},
                )
        return is_default


class ScopeForm(forms.ModelForm):
    class Meta:
        model = Scope
        fields = ("name", "description")
        widgets = {
            "name": forms.TextInput(attrs={"size": 28, "placeholder": "read:products"}),
            "description": forms.TextInput(attrs={"size": 60}),
        }


class ScopeInline(admin.TabularInline):
    model = Scope
    form = ScopeForm
    fields = ("name", "description")
    extra = 0
    verbose_name = _("permission (scope)")
    verbose_name_plural = _("permissions (scopes)")

    def get_extra(self, request: HttpRequest, obj: Resource | None = None, **kwargs: Any) -> int:
        return 2 if obj is None else 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not is_management_resource(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not is_management_resource(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not is_management_resource(obj) and super().has_delete_permission(request, obj)


class ResourceAdmin(admin.ModelAdmin):
    form = ResourceForm
    change_form_template = template("change_form.html")
    list_display = ("name", "indicator", "access_token_ttl", "is_default", "scope_count", "role_count")
    list_display_links = ("name", "indicator")
    search_fields = ("name", "indicator")
    inlines = (ScopeInline,)
    actions = ("make_default",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Resource]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _scope_count=Count("scopes", distinct=True),
                _role_count=Count("scopes__roles", distinct=True),
            )
        )

    @admin.display(description=_("permissions"), ordering="_scope_count")
    def scope_count(self, obj: Resource) -> int:
        return int(getattr(obj, "_scope_count", 0))

    @admin.display(description=_("roles using it"), ordering="_role_count")
    def role_count(self, obj: Resource) -> int:
        return int(getattr(obj, "_role_count", 0))

    def get_fieldsets(self, request: HttpRequest, obj: Resource | None = None) -> Any:
        fields = ["name", "indicator", "access_token_ttl", "is_default"]
        if obj is None:
            return [(None, {"fields": fields})]
        description = None
        if is_management_resource(obj):
            description = _(
                "The built-in Management API: only its access-token lifetime can be changed; it can't be deleted."
            )
        return [(None, {"fields": [*fields, "created_at"], "description": description})]

    def get_readonly_fields(self, request: HttpRequest, obj: Resource | None = None) -> Any:
        if obj is None:
            return ()
        if is_management_resource(obj):
            return ("name", "indicator", "is_default", "created_at")
        # The indicator is the audience of issued tokens: changing it would strand every client.
        return ("indicator", "created_at")

    def has_delete_permission(self, request: HttpRequest, obj: Resource | None = None) -> bool:
        return not is_management_resource(obj) and super().has_delete_permission(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Resource]) -> None:
        # delete_selected already refuses when the selection holds the management API; this is a second lock.
        super().delete_queryset(request, queryset.exclude(indicator=m2m_settings.MANAGEMENT_API_INDICATOR))

    @admin.action(description=_("Make the selected API the default"), permissions=("change",))
    def make_default(self, request: HttpRequest, queryset: QuerySet[Resource]) -> None:
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, _("Select exactly one API to make it the default."), messages.WARNING)
            return
        resource = selected[0]
        if is_management_resource(resource):
            self.message_user(request, _("The Management API can't be the default API."), messages.ERROR)
            return
        with transaction.atomic():
            # The old default goes first: at most one default row exists at any moment.
            Resource.objects.default().exclude(pk=resource.pk).update(is_default=False)
            Resource.objects.filter(pk=resource.pk).update(is_default=True)
        self.log_change(request, resource, [{"changed": {"fields": ["is_default"]}}])
        self.message_user(
            request,
            _("“%(name)s” is now the default API: token requests without a resource get tokens for it.")
            % {"name": resource.name},
            messages.SUCCESS,
        )
