"""The M2M dashboard: token requests per application over time, secrets to look at, keys and their ages.

Served by the token-activity admin (``<admin>/logto_m2m/tokenactivity/dashboard/``) to staff who may
view token activity, and listed on the admin index by :func:`link_dashboard`. The page reads a fixed
number of aggregate queries (:mod:`.dashboard_data`) and draws its charts as inline SVG (:mod:`.charts`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import charts, dashboard_data
from ._common import template

#: The clock of the page (tests replace it).
clock: Callable[[], datetime] = timezone.now

URL_NAME = "logto_m2m_dashboard"
#: ``(query parameter, default, choices offered)``; any whole number from 1 to the last choice is accepted.
RANGES = {
    "days": (7, (1, 7, 14, 30, 90)),
    "unused": (30, (7, 30, 90, 180, 365)),
    "expiring": (14, (7, 14, 30, 90, 365)),
}
#: CSS classes of the chart's series; error codes beyond these share the last one.
_ERROR_CLASSES = ("m2m-s-1", "m2m-s-2", "m2m-s-3", "m2m-s-4", "m2m-s-5")


def parameter(request: HttpRequest, name: str) -> int:
    default, choices = RANGES[name]
    raw = request.GET.get(name, "")
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= choices[-1]:
        return int(raw)
    return default


def _label(bucket: datetime, hourly: bool) -> str:
    return date_format(timezone.localtime(bucket), "H:i" if hourly else "j M")


def _title(label: str, stack: dict[str, int]) -> str:
    total = sum(stack.values())
    parts = []
    if stack.get(dashboard_data.SUCCESS):
        count = stack[dashboard_data.SUCCESS]
        parts.append(ngettext("%(n)d success", "%(n)d successes", count) % {"n": count})
    parts += [
        f"{count} {code}" for code, count in sorted(stack.items(), key=lambda i: (-i[1], i[0])) if code != "success"
    ]
    head = ngettext("%(label)s: %(n)d request", "%(label)s: %(n)d requests", total) % {"label": label, "n": total}
    return f"{head}: {', '.join(parts)}" if parts else head


def _chart(activity: dashboard_data.Activity) -> tuple[Any, list[tuple[str, str]]]:
    classes = {dashboard_data.SUCCESS: "m2m-s-ok"}
    for n, (code, _count) in enumerate(activity.errors):
        classes[code] = _ERROR_CLASSES[min(n, len(_ERROR_CLASSES) - 1)]
    order = [dashboard_data.SUCCESS, *(code for code, _count in activity.errors)]
    win = activity.window
    labels = [_label(bucket, win.hourly) for bucket in win.buckets]
    stacks = [[(series, bucket.get(series, 0)) for series in order] for bucket in activity.chart]
    titles = [_title(label, bucket) for label, bucket in zip(labels, activity.chart, strict=True)]
    every = 3 if win.hourly else max(1, len(labels) // 10)
    svg = charts.stacked_bars("m2m-requests-chart", labels, stacks, titles, classes, every)
    legend = [(classes[dashboard_data.SUCCESS], _("successes"))]
    legend += [(classes[code], code) for code, _count in activity.errors]
    return svg, legend


def dashboard_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    now = clock()
    days, unused_days, expiring_days = (parameter(request, name) for name in ("days", "unused", "expiring"))
    activity = dashboard_data.activity(now, days, _("Unknown clients"))
    chart, legend = _chart(activity)
    unused, more_unused = dashboard_data.unused_secrets(now, unused_days, _("Default secret (legacy)"))
    expiring, more_expiring = dashboard_data.expiring_secrets(now, expiring_days)
    if days == 1:
        period = _("the last 24 hours")
    else:
        period = ngettext("the last %(n)d day", "the last %(n)d days", days) % {"n": days}
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("M2M dashboard"),
        "now": now,
        "period": period,
        "activity": activity,
        "apps": [(app, charts.sparkline(app.per_bucket, _("requests per period"))) for app in activity.apps],
        "summary": ngettext("%(n)d token request in %(period)s", "%(n)d token requests in %(period)s", activity.total)
        % {"n": activity.total, "period": period},
        "chart": chart,
        "legend": legend,
        "unused": unused,
        "more_unused": more_unused,
        "expiring": expiring,
        "more_expiring": more_expiring,
        "keys": dashboard_data.signing_keys(now),
        "choices": {name: choices for name, (_default, choices) in RANGES.items()},
        "selected": {"days": days, "unused": unused_days, "expiring": expiring_days},
        "top_apps": dashboard_data.TOP_APPS,
        "list_limit": dashboard_data.LIST_LIMIT,
    }
    return TemplateResponse(request, template("dashboard.html"), context)


def link_dashboard(site: admin.AdminSite) -> None:
    """List "M2M dashboard" first in this app's section of ``site``'s index (and its sidebar), for
    users who may view token activity. Call it for a project's own ``AdminSite`` that registers the
    token-activity admin; the default site is done on import of :mod:`logto_m2m_django.admin`."""
    if getattr(site, "_logto_m2m_dashboard_linked", False):
        return
    original = site.get_app_list

    def get_app_list(request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        app_list = original(request, app_label)
        if not request.user.has_perm("logto_m2m.view_tokenactivity"):  # type: ignore[union-attr]
            return app_list
        try:
            url = reverse(f"{site.name}:{URL_NAME}")
        except NoReverseMatch:  # the token-activity admin is not registered on this site
            return app_list
        entry = {
            "name": _("M2M dashboard"),
            "object_name": "Dashboard",
            "admin_url": url,
            "add_url": None,
            "view_only": True,
            "perms": {"view": True},
        }
        for app in app_list:
            if app.get("app_label") == "logto_m2m":
                app["models"].insert(0, entry)
        return app_list

    site.get_app_list = get_app_list  # type: ignore[method-assign]
    site._logto_m2m_dashboard_linked = True  # type: ignore[attr-defined]
