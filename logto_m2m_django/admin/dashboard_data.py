"""What the M2M dashboard shows, read with a fixed number of aggregate queries.

However many applications, secrets or activity rows there are, the page costs the same queries:
the counts are grouped in the database (per time bucket and error code, per application for the
busiest :data:`TOP_APPS`), and the secret lists stop at :data:`LIST_LIMIT` rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from ..models import ApplicationSecret, KeyStatus, M2MApplication, Outcome, SigningKey, TokenActivity

#: Applications listed (the busiest first); the others are in the totals and the chart.
TOP_APPS = 20
#: Rows shown per secret list (the oldest or the soonest first).
LIST_LIMIT = 50
#: The chart's series for successful requests (errors are series named by their code).
SUCCESS = "success"


@dataclass
class Window:
    """The period shown: ``len(buckets)`` hours (one day) or days, the last one holding ``now``."""

    hourly: bool
    buckets: list[datetime]

    @property
    def start(self) -> datetime:
        return self.buckets[0]


def window(now: datetime, days: int) -> Window:
    if days == 1:
        top = now.replace(minute=0, second=0, microsecond=0)
        return Window(True, [top - timedelta(hours=n) for n in range(23, -1, -1)])
    tz = timezone.get_current_timezone()
    today = timezone.localtime(now, tz).date()
    dates = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    return Window(False, [timezone.make_aware(datetime.combine(d, time.min), tz) for d in dates])


@dataclass
class AppRow:
    name: str
    application_id: int | None
    total: int = 0
    successes: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    per_bucket: list[int] = field(default_factory=list)

    @property
    def refusals(self) -> int:
        return self.total - self.successes


@dataclass
class Activity:
    window: Window
    #: bucket index -> series (``SUCCESS`` or an error code) -> count
    chart: list[dict[str, int]]
    errors: list[tuple[str, int]]
    apps: list[AppRow]

    @property
    def total(self) -> int:
        return sum(sum(bucket.values()) for bucket in self.chart)


def _bucket_counts(queryset: QuerySet[TokenActivity], win: Window, *fields: str) -> Iterable[dict[str, Any]]:
    """Rows counted per (time bucket, ``fields``), the bucket truncated in the current time zone."""
    trunc = TruncHour if win.hourly else TruncDay
    bucketed = queryset.annotate(bucket=trunc("created_at", tzinfo=timezone.get_current_timezone()))
    return bucketed.values("bucket", *fields).annotate(n=Count("id"))


def activity(now: datetime, days: int, unknown_label: str) -> Activity:
    win = window(now, days)
    index = {bucket: n for n, bucket in enumerate(win.buckets)}
    rows = TokenActivity.objects.filter(created_at__gte=win.start, created_at__lte=now).order_by()

    chart: list[dict[str, int]] = [defaultdict(int) for _ in win.buckets]
    by_error: dict[str, int] = defaultdict(int)
    for row in _bucket_counts(rows, win, "outcome", "error"):
        if row["bucket"] not in index:
            continue
        series = SUCCESS if row["outcome"] == Outcome.SUCCESS else (row["error"] or "error")
        chart[index[row["bucket"]]][series] += row["n"]
        if series != SUCCESS:
            by_error[series] += row["n"]

    busiest = list(
        rows.values("application")
        .annotate(total=Count("id"), ok=Count("id", filter=Q(outcome=Outcome.SUCCESS)))
        .order_by("-total", "application")[:TOP_APPS]
    )
    ids = [row["application"] for row in busiest if row["application"] is not None]
    names = dict(
        M2MApplication.objects.filter(pk__in=ids).values_list("pk", "application__name")
    )  # one query for every name
    apps = {
        row["application"]: AppRow(
            names.get(row["application"], "") if row["application"] is not None else unknown_label,
            row["application"],
            row["total"],
            row["ok"],
            per_bucket=[0] * len(win.buckets),
        )
        for row in busiest
    }
    listed = Q(application__in=ids) | (Q(application__isnull=True) if None in apps else Q(pk__in=[]))
    failures = rows.filter(listed, outcome=Outcome.FAILURE).values("application", "error").annotate(n=Count("id"))
    for failure in failures.order_by("application", "-n", "error"):
        apps[failure["application"]].errors[failure["error"] or "error"] = failure["n"]
    for row in _bucket_counts(rows.filter(listed), win, "application"):
        if row["bucket"] in index:
            apps[row["application"]].per_bucket[index[row["bucket"]]] += row["n"]
    errors = sorted(by_error.items(), key=lambda item: (-item[1], item[0]))
    return Activity(win, [dict(bucket) for bucket in chart], errors, list(apps.values()))


@dataclass
class SecretRow:
    application: M2MApplication
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None = None


def unused_secrets(now: datetime, days: int, legacy_label: str) -> tuple[list[SecretRow], bool]:
    """Secrets (named, and DOT's default one) older than ``days`` and not used for ``days``; the
    longest unused first. The flag says whether more than :data:`LIST_LIMIT` were found."""
    cutoff = now - timedelta(days=days)
    idle = Q(last_used_at__isnull=True) | Q(last_used_at__lt=cutoff)
    named = (
        ApplicationSecret.objects.active(now)
        .filter(idle, created_at__lt=cutoff)
        .select_related("application__application")
        .order_by(F("last_used_at").asc(nulls_first=True), "created_at")[: LIST_LIMIT + 1]
    )
    legacy = (
        M2MApplication.objects.exclude(application__client_secret="")
        .filter(idle, created_at__lt=cutoff)
        .select_related("application")
        .order_by(F("last_used_at").asc(nulls_first=True), "created_at")[: LIST_LIMIT + 1]
    )
    found = [SecretRow(s.application, s.name, s.created_at, s.last_used_at, s.expires_at) for s in named]
    found += [SecretRow(app, legacy_label, app.created_at, app.last_used_at) for app in legacy]
    found.sort(key=lambda row: (row.last_used_at is not None, row.last_used_at or row.created_at, row.created_at))
    return found[:LIST_LIMIT], len(found) > LIST_LIMIT


def expiring_secrets(now: datetime, days: int) -> tuple[list[SecretRow], bool]:
    """Named secrets that expire within ``days`` (not yet expired), the soonest first."""
    soon = (
        ApplicationSecret.objects.filter(expires_at__gt=now, expires_at__lte=now + timedelta(days=days))
        .select_related("application__application")
        .order_by("expires_at", "pk")[: LIST_LIMIT + 1]
    )
    found = [SecretRow(s.application, s.name, s.created_at, s.last_used_at, s.expires_at) for s in soon]
    return found[:LIST_LIMIT], len(found) > LIST_LIMIT


_STATUS_ORDER: dict[str, int] = {KeyStatus.NEXT: 0, KeyStatus.CURRENT: 1, KeyStatus.PREVIOUS: 2}


def signing_keys(now: datetime) -> list[tuple[Any, int]]:
    """Every key with its age in whole days: Next, Current, then the Previous ones, newest first."""
    keys = SigningKey.objects.only("kid", "algorithm", "status", "created_at").order_by("-created_at")
    ordered = sorted(keys, key=lambda key: _STATUS_ORDER.get(key.status, 3))
    return [(key, max(0, (now - key.created_at).days)) for key in ordered]
