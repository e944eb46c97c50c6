"""Token activity: which app is calling, and why is it failing? Read-only."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from ..models import M2MApplication, Outcome, TokenActivity
from ._common import USE_TOKEN_INSPECTOR, admin_change_url, template
from .dashboard import URL_NAME as DASHBOARD_URL_NAME
from .dashboard import dashboard_view
from .inspector import inspector_view


class ApplicationFilter(admin.SimpleListFilter):
    """Filter by application, with names read in one query (the default filter would read one per app)."""

    title = _("application")
    parameter_name = "application"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        apps = M2MApplication.objects.select_related("application").order_by("application__name")
        return [(str(app.pk), app.name) for app in apps]

    def queryset(self, request: HttpRequest, queryset: QuerySet[TokenActivity]) -> QuerySet[TokenActivity]:
        value = self.value()
        return queryset.filter(application__pk=value) if value else queryset


class _RecentValueFilter(admin.SimpleListFilter):
    """Filter on a text column, offering the values seen in the newest rows (most frequent first).

    The column holds caller-supplied text on failed requests, so the choices are bounded: the
    :attr:`sample` newest rows, at most :attr:`limit` values. Any value can still be filtered on
    through the URL (``?<parameter>=<value>``) or searched.
    """

    field = ""
    sample = 1000
    limit = 20

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        newest = TokenActivity.objects.order_by("-created_at").values_list(self.field, flat=True)[: self.sample]
        counts = Counter(value for value in newest if value)
        return [(value, value) for value, _ in counts.most_common(self.limit)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[TokenActivity]) -> QuerySet[TokenActivity]:
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class SecretFilter(_RecentValueFilter):
    """Which named secret authenticated: is a copy of a credential still in use before it is deleted?"""

    title = _("secret")
    parameter_name = field = "secret_name"


class UserAgentFilter(_RecentValueFilter):
    title = _("user agent")
    parameter_name = field = "user_agent"


#: Characters of a user agent shown in the list (the list stays readable at 1280 px).
SHORT_TEXT = 60


class TokenActivityAdmin(admin.ModelAdmin):
    change_list_template = template("tokenactivity_change_list.html")
    list_display = (
        "created_at",
        "application_column",
        "resource",
        "scopes_column",
        "outcome_column",
        "error",
        "client_ip",
        "secret_name",
        "user_agent",
    )
    list_filter = ("outcome", ApplicationFilter, SecretFilter, UserAgentFilter)
    list_select_related = ("application__application",)
    search_fields = ("client_id", "resource", "error", "secret_name", "user_agent")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TokenActivity | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TokenActivity | None = None) -> bool:
        return False

    @admin.display(description=_("application"), ordering="application__application__name")
    def application_column(self, obj: TokenActivity) -> SafeString | str:
        if obj.application is not None:
            return format_html("<a href='{}'>{}</a>", admin_change_url(obj.application), obj.application.name)
        return format_html("<code>{}</code>", obj.client_id) if obj.client_id else "—"

    @admin.display(description=_("scopes (granted / asked, not granted)"))
    def scopes_column(self, obj: TokenActivity) -> SafeString | str:
        granted = [format_html("<code class='m2m-scope'>{}</code>", s) for s in obj.scopes.split()]
        refused = [
            format_html("<code class='m2m-scope m2m-not-granted' title='{}'>{}</code>", _("asked, not granted"), s)
            for s in obj.not_granted_scopes
        ]
        return format_html_join("", "{}", ((c,) for c in granted + refused)) if granted or refused else "—"

    @admin.display(description=_("user agent"), ordering="user_agent")
    def user_agent(self, obj: TokenActivity) -> SafeString | str:
        """Caller-supplied, up to 256 characters: the first :data:`SHORT_TEXT` shown, all of it on hover."""
        text = obj.user_agent
        if len(text) <= SHORT_TEXT:
            return text or "—"
        return format_html("<span title='{}'>{}…</span>", text, text[:SHORT_TEXT])

    @admin.display(description=_("outcome"), ordering="outcome")
    def outcome_column(self, obj: TokenActivity) -> SafeString:
        css = "m2m-ok" if obj.outcome == Outcome.SUCCESS else "m2m-fail"
        return format_html("<span class='{}'>{}</span>", css, obj.get_outcome_display())

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "inspect/",
                self.admin_site.admin_view(self.token_inspector_view),
                name=f"{self.opts.app_label}_token_inspector",
            ),
            path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name=DASHBOARD_URL_NAME),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return dashboard_view(self, request)

    def token_inspector_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(USE_TOKEN_INSPECTOR):  # type: ignore[union-attr]
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "opts": self.opts}
        return inspector_view(request, context)
