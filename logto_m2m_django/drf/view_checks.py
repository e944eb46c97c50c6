"""System checks on URL-routed DRF views (ids ``logto_m2m.E054`` / ``E055``).

A view protected by :class:`~logto_m2m_django.drf.JWTAccessTokenAuthentication` without an
audience, or using :class:`~logto_m2m_django.drf.RequiredScopes` without declaring its scopes,
raises ``ImproperlyConfigured`` (a 500) on the first request carrying a token. These checks
find them at ``manage.py check`` time instead, in the issuing project and in a resource
server that installs only ``"logto_m2m_django.drf"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from ..conf import m2m_settings


def _routed_views(patterns: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _routed_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif hasattr(pattern, "callback"):
            yield prefix + str(pattern.pattern), pattern.callback


def _operands(permission: Any) -> Iterator[Any]:
    """A permission class and, for compositions (ours and DRF's), every class inside."""
    yield permission
    for inner in getattr(permission, "operands", ()) or ():
        yield from _operands(inner)
    for name in ("op1_class", "op2_class"):
        if hasattr(permission, name):
            yield from _operands(getattr(permission, name))


@register(Tags.urls)
def check_protected_views(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """E054 / E055: URL-routed DRF views using JWTAccessTokenAuthentication declare an audience and scopes."""
    if not apps.is_installed("rest_framework"):
        return []
    from django.urls import get_resolver

    from .authentication import JWTAccessTokenAuthentication
    from .permissions import RequiredScopes

    try:
        routed = list(_routed_views(get_resolver().url_patterns))
    except ImproperlyConfigured:
        return []  # no URLconf: Django's own checks say so
    problems: list[Any] = []
    seen: set[type] = set()
    for route, callback in routed:
        view = getattr(callback, "cls", None)
        if not isinstance(view, type) or view in seen:
            continue
        seen.add(view)
        initkwargs = getattr(callback, "initkwargs", None) or {}
        attrs = {
            **{k: getattr(view, k, None) for k in ("audience", "required_scopes", "required_scopes_by_method")},
            **initkwargs,
        }
        authenticators = getattr(view, "authentication_classes", ())
        if not any(isinstance(a, type) and issubclass(a, JWTAccessTokenAuthentication) for a in authenticators):
            continue
        name = f"{view.__module__}.{view.__qualname__}"
        dynamic_audience = isinstance(getattr(view, "audience", None), property)
        if not attrs["audience"] and not dynamic_audience and not m2m_settings.AUDIENCE:
            problems.append(
                Error(
                    f"{name} (/{route}) uses JWTAccessTokenAuthentication but declares no audience: every request "
                    "with a token would be a 500.",
                    hint='Set `audience = "https://your.api"` on the view, or LOGTO_M2M["AUDIENCE"].',
                    obj=view,
                    id="logto_m2m.E055",
                )
            )
        uses_required = any(
            isinstance(p, type) and issubclass(p, RequiredScopes)
            for entry in getattr(view, "permission_classes", ())
            for p in _operands(entry)
        )
        if uses_required and attrs["required_scopes"] is None and attrs["required_scopes_by_method"] is None:
            problems.append(
                Error(
                    f"{name} (/{route}) uses RequiredScopes but declares neither `required_scopes` nor "
                    "`required_scopes_by_method`: every request with a token would be a 500.",
                    hint='Declare e.g. `required_scopes = ["read:products"]`, or `required_scopes = []` for any '
                    "valid token, or use other permission classes.",
                    obj=view,
                    id="logto_m2m.E054",
                )
            )
    return problems
