"""Helpers shared by the admin modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..conf import m2m_settings
from ..models import Resource, Role

TEMPLATE_DIR = "logto_m2m_django/admin"


def template(name: str) -> str:
    return f"{TEMPLATE_DIR}/{name}"


def is_management_resource(resource: Resource | None) -> bool:
    """The built-in Management API resource: read-only and undeletable in the admin."""
    return resource is not None and resource.indicator == m2m_settings.MANAGEMENT_API_INDICATOR


#: Needed to add secrets to, or grant Management API scopes to, any application (superusers have it).
MANAGE_MANAGEMENT_API = "logto_m2m.manage_management_api_access"
#: Needed to open the token inspector.
USE_TOKEN_INSPECTOR = "logto_m2m.use_token_inspector"
MANAGEMENT_API_DENIED = gettext_lazy(
    "Giving an application access to the Management API (scope all) needs the permission "
    "“Can give applications access to the Management API”."
)


def may_manage_management_api(request: HttpRequest) -> bool:
    return bool(request.user.has_perm(MANAGE_MANAGEMENT_API))  # type: ignore[union-attr]


def management_roles() -> Any:
    """Roles holding a scope of the Management API resource."""
    return Role.objects.filter(scopes__resource__indicator=m2m_settings.MANAGEMENT_API_INDICATOR).distinct()


def has_codename(request: HttpRequest, model: Any, action: str) -> bool:
    opts = model._meta
    return bool(request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"))  # type: ignore[union-attr]


def admin_change_url(obj: Any) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def permissions_html(grouped: Mapping[Resource, Sequence[str]]) -> SafeString:
    """Scopes grouped by API resource, as a small read-only list."""
    if not grouped:
        return format_html("<span class='m2m-muted'>{}</span>", _("None"))
    rows = format_html_join(
        "",
        "<li><strong>{}</strong> <code>{}</code><br>{}</li>",
        (
            (
                resource.name,
                resource.indicator,
                format_html_join(" ", "<code class='m2m-scope'>{}</code>", ((name,) for name in names))
                if names
                else _("no permissions"),
            )
            for resource, names in grouped.items()
        ),
    )
    return format_html("<ul class='m2m-permissions'>{}</ul>", rows)


def token_endpoint(request: HttpRequest) -> str:
    """This server's token endpoint, from the configured issuer (or the request when it is unset)."""
    issuer = m2m_settings.ISSUER
    if issuer:
        return f"{issuer}/token"
    return request.build_absolute_uri(reverse("logto_m2m:token"))
