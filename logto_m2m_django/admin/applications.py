"""M2M applications: creation with a one-time secret, roles, effective permissions, named secrets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value, unquote
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, ManyToManyField, OuterRef, Prefetch, QuerySet, Subquery
from django.forms import ModelMultipleChoiceField
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from ..models import ApplicationSecret, M2MApplication, Outcome, Role, TokenActivity
from ..provisioning import add_secret, create_application, effective_permissions
from ..provisioning import revoke_default_secret as revoke_secret
from ._common import (
    MANAGEMENT_API_DENIED,
    admin_change_url,
    has_codename,
    management_roles,
    may_manage_management_api,
    permissions_html,
    template,
)
from .claims_preview import application_preview_html
from .credentials import one_time_response
from .organizations import organizations_html

#: Attribute of the freshly created instance that carries its secret to ``response_add`` (same request only).
_NEW_SECRET = "_logto_m2m_new_secret"


class M2MApplicationForm(forms.ModelForm):
    name = forms.CharField(label=_("Name"), max_length=255)

    class Meta:
        model = M2MApplication
        fields = ("description", "is_enabled", "roles", "custom_data")
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3, "cols": 60}),
            "custom_data": forms.Textarea(attrs={"rows": 4, "cols": 60, "spellcheck": "false"}),
        }

    #: Set by M2MApplicationAdmin.get_form for the requesting user.
    may_grant_management_api = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "name" in self.fields:
            self.fields["name"].initial = self.instance.application.name

    def clean_custom_data(self) -> Any:
        # An emptied field means no custom data ({}), not NULL.
        value = self.cleaned_data.get("custom_data")
        return {} if value is None or value == "" else value

    def clean_roles(self) -> Any:
        roles = self.cleaned_data.get("roles")
        if roles is None or self.may_grant_management_api:
            return roles
        held = set(self.instance.roles.values_list("pk", flat=True)) if self.instance.pk is not None else set()
        added = {role.pk for role in roles} - held
        if added and management_roles().filter(pk__in=added).exists():
            raise forms.ValidationError(MANAGEMENT_API_DENIED, code="management_api_permission")
        return roles


class SecretInline(admin.TabularInline):
    """The named secrets: metadata only, never a value. Added through their own one-time page."""

    model = ApplicationSecret
    fields = ("name", "created_at", "expires_at", "last_used_at", "state")
    readonly_fields = fields
    extra = 0
    verbose_name = _("named secret")
    verbose_name_plural = _("named secrets")

    # Secrets are part of their application: its permissions govern them.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_codename(request, M2MApplication, "view") or has_codename(request, M2MApplication, "change")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_codename(request, M2MApplication, "change")

    @admin.display(description=_("state"))
    def state(self, obj: ApplicationSecret) -> str:
        return str(_("expired")) if obj.is_expired else str(_("active"))


EXPIRY_CHOICES = [
    ("", _("Never")),
    ("30", _("In 30 days")),
    ("90", _("In 90 days")),
    ("365", _("In one year")),
]


class SecretForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=256, help_text=_("e.g. “production 2026”"))
    expires_in = forms.TypedChoiceField(
        label=_("Expires"), choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False
    )

    def __init__(self, *args: Any, application: M2MApplication, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.application = application

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"])
        if ApplicationSecret.objects.filter(application=self.application, name=name).exists():
            raise forms.ValidationError(_("This application has a secret with this name already."), code="duplicate")
        return name

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + timedelta(days=days) if days else None


class M2MApplicationAdmin(admin.ModelAdmin):
    form = M2MApplicationForm
    change_form_template = template("application_change_form.html")
    list_display = ("name_column", "app_id", "is_enabled", "roles_column", "last_token_column")
    list_display_links = ("name_column",)
    list_filter = ("is_enabled", "roles")
    search_fields = ("application__name", "application__client_id", "description")
    filter_horizontal = ("roles",)
    inlines = (SecretInline,)
    actions = ("disable", "enable", "revoke_default_secret")

    # -- queries ---------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[M2MApplication]:
        last_success = TokenActivity.objects.filter(application=OuterRef("pk"), outcome=Outcome.SUCCESS).order_by(
            "-created_at"
        )
        last_secret_use = ApplicationSecret.objects.filter(
            application=OuterRef("pk"), last_used_at__isnull=False
        ).order_by(F("last_used_at").desc())
        return (
            super()
            .get_queryset(request)
            .select_related("application")
            .prefetch_related(Prefetch("roles", queryset=Role.objects.order_by("name")))
            .annotate(
                _last_token=Subquery(last_success.values("created_at")[:1], output_field=DateTimeField()),
                _last_secret_use=Subquery(last_secret_use.values("last_used_at")[:1], output_field=DateTimeField()),
            )
        )

    def formfield_for_manytomany(
        self, db_field: ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField | None:
        if db_field.name == "roles":
            kwargs["queryset"] = Role.objects.machine_to_machine()
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    # -- columns and read-only fields -----------------------------------------

    @admin.display(description=_("name"), ordering="application__name")
    def name_column(self, obj: M2MApplication) -> str:
        return obj.name

    @admin.display(description=_("App ID"), ordering="application__client_id")
    def app_id(self, obj: M2MApplication) -> SafeString:
        return format_html("<code>{}</code>", obj.client_id)

    @admin.display(description=_("roles"))
    def roles_column(self, obj: M2MApplication) -> str:
        return ", ".join(role.name for role in obj.roles.all()) or "—"

    @admin.display(description=_("last token"), ordering="_last_token")
    def last_token_column(self, obj: M2MApplication) -> str:
        """The last successful token request (the activity log, or the secrets' last-used stamps)."""
        times = [getattr(obj, "_last_token", None), getattr(obj, "_last_secret_use", None), obj.last_used_at]
        known = [t for t in times if t is not None]
        # Formatted here: read-only fields of the change form show a callable's value as plain text.
        return str(display_for_value(max(known) if known else None, self.get_empty_value_display()))

    @admin.display(description=_("effective permissions"))
    def effective_permissions(self, obj: M2MApplication) -> SafeString:
        return permissions_html(effective_permissions(obj))

    @admin.display(description=_("custom claims (dry run)"))
    def custom_claims_preview(self, obj: M2MApplication) -> SafeString:
        return application_preview_html(obj)

    # -- forms -----------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: M2MApplication | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": ("name", "description", "roles")})]
        return [
            (None, {"fields": ("name", "app_id", "description", "is_enabled", "roles", "custom_data")}),
            (
                _("Custom claims"),
                {
                    "fields": ("custom_claims_preview",),
                    "description": _(
                        "What the custom claims hook adds to this application's tokens, per API resource "
                        "(a dry run with the saved custom data and roles)."
                    ),
                },
            ),
            (
                _("Effective permissions"),
                {
                    "fields": ("effective_permissions",),
                    "description": _("What a token request of this application is granted, per API resource."),
                },
            ),
            (_("Organizations"), {"fields": ("member_of",)}),
            (_("Activity"), {"fields": ("created_at", "last_token_column", "last_used_at")}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: M2MApplication | None = None) -> Any:
        if obj is None:
            return ()
        return (
            "app_id",
            "effective_permissions",
            "custom_claims_preview",
            "member_of",
            "created_at",
            "last_token_column",
            "last_used_at",
        )

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.may_grant_management_api = may_manage_management_api(request)  # type: ignore[attr-defined]
        return form

    def _may_add_secret(self, request: HttpRequest, obj: M2MApplication) -> bool:
        # A secret of an application holding the Management API is a credential for scope `all`.
        if not self.has_change_permission(request, obj):
            return False
        return may_manage_management_api(request) or not management_roles().filter(applications=obj).exists()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> Any:
        obj = self.get_object(request, unquote(object_id))
        extra = {
            "may_add_secret": obj is not None and self._may_add_secret(request, obj),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    @admin.display(description=_("organizations and roles there"))
    def member_of(self, obj: M2MApplication) -> SafeString:
        return organizations_html(obj)

    def get_inlines(self, request: HttpRequest, obj: M2MApplication | None) -> Any:
        return self.inlines if obj is not None else ()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        # Saving always leads to the one-time credentials page: one button says so.
        extra = {"show_save_and_add_another": False, "show_save_and_continue": False, **(extra_context or {})}
        return super().add_view(request, form_url, extra)

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        if change:
            return super().save_form(request, form, change)
        # Creation goes through provisioning, which makes the OAuth application and the secret.
        m2m, secret = create_application(
            form.cleaned_data["name"],
            description=form.cleaned_data.get("description", ""),
            roles=form.cleaned_data.get("roles") or (),
        )
        setattr(m2m, _NEW_SECRET, secret)
        return m2m

    def save_model(self, request: HttpRequest, obj: M2MApplication, form: Any, change: bool) -> None:
        if not change:
            return  # saved by create_application
        application = obj.application
        name = form.cleaned_data.get("name")
        if name and name != application.name:
            application.name = name
            application.save(update_fields=["name", "updated"])
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def response_add(self, request: HttpRequest, obj: M2MApplication, post_url_continue: str | None = None) -> Any:
        secret = getattr(obj, _NEW_SECRET, None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        delattr(obj, _NEW_SECRET)
        self.message_user(request, _("The application “%(name)s” was added.") % {"name": obj.name}, messages.SUCCESS)
        return one_time_response(request, self._page_context(request, obj), obj, secret)

    def _page_context(self, request: HttpRequest, obj: M2MApplication) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "has_view_permission": self.has_view_permission(request, obj),
        }

    # -- named secrets -----------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        return [
            path(
                "<path:object_id>/secrets/add/",
                self.admin_site.admin_view(self.add_secret_view),
                name=f"{opts.app_label}_{opts.model_name}_add_secret",
            ),
            *super().get_urls(),
        ]

    def add_secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(_("No such application."))
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        if not self._may_add_secret(request, obj):
            self.message_user(request, MANAGEMENT_API_DENIED, messages.ERROR)
            return HttpResponseRedirect(admin_change_url(obj))
        form = SecretForm(request.POST or None, application=obj)
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic():
                    row, secret = add_secret(obj, form.cleaned_data["name"], form.expires_at())
            except IntegrityError:
                form.add_error("name", _("This application has a secret with this name already."))
            else:
                self.log_change(request, obj, [{"added": {"name": str(_("named secret")), "object": row.name}}])
                return one_time_response(request, self._page_context(request, obj), obj, secret, secret_name=row.name)
        context = {
            **self._page_context(request, obj),
            "title": _("Add a secret to %(name)s") % {"name": obj.name},
            "form": form,
        }
        return TemplateResponse(request, template("add_secret.html"), context)

    # -- actions -----------------------------------------------------------------

    @admin.action(description=_("Disable the selected applications"), permissions=("change",))
    def disable(self, request: HttpRequest, queryset: QuerySet[M2MApplication]) -> None:
        self._set_enabled(request, queryset, False)

    @admin.action(description=_("Enable the selected applications"), permissions=("change",))
    def enable(self, request: HttpRequest, queryset: QuerySet[M2MApplication]) -> None:
        self._set_enabled(request, queryset, True)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[M2MApplication], enabled: bool) -> None:
        apps = list(queryset.exclude(is_enabled=enabled))
        M2MApplication.objects.filter(pk__in=[app.pk for app in apps]).update(is_enabled=enabled)
        for app in apps:
            self.log_change(request, app, [{"changed": {"fields": ["is_enabled"]}}])
        if enabled:
            text = _("%(count)d application(s) enabled.")
        else:
            text = _("%(count)d application(s) disabled: their token requests now get unauthorized_client.")
        self.message_user(request, text % {"count": len(apps)}, messages.SUCCESS)

    @admin.action(
        description=_("Revoke the default (legacy) secret of the selected applications"), permissions=("change",)
    )
    def revoke_default_secret(self, request: HttpRequest, queryset: QuerySet[M2MApplication]) -> None:
        revoked = [app for app in queryset.select_related("application") if revoke_secret(app)]
        for app in revoked:
            self.log_change(request, app, [{"deleted": {"name": str(_("default secret")), "object": app.name}}])
        self.message_user(
            request,
            _("%(count)d application(s): the default secret was revoked; named secrets keep working.")
            % {"count": len(revoked)},
            messages.SUCCESS,
        )
