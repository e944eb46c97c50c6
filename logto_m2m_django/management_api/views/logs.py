"""``/api/logs``: the token activity log in Logto's audit-log shape (``GET /api/logs``, ``GET /api/logs/{id}``).

Each token request is a log with the key ``ExchangeTokenBy.ClientCredentials``, as Logto records a
client-credentials grant. A log never holds a secret, a secret's hash or a token: the activity row
stores none (the secret's name only), and :func:`log_json` builds the payload from named columns.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from ...models import M2MApplication, Outcome, TokenActivity
from ..access import route_scopes
from ..builtin import READ_LOGS
from ..errors import ApiError, invalid_input, not_exists
from ..pagination import paginate
from ..serializers import TENANT_ID, epoch_ms
from ._base import ManagementView, json_list

LOG_KEY = "ExchangeTokenBy.ClientCredentials"
_MAX_ID_DIGITS = 18
_ONE_MS = timedelta(milliseconds=1)


def log_json(row: TokenActivity) -> dict[str, Any]:
    success = row.outcome == Outcome.SUCCESS
    payload: dict[str, Any] = {"key": LOG_KEY, "result": "Success" if success else "Error"}
    if not success:
        payload["error"] = row.error
    if row.client_ip:
        payload["ip"] = row.client_ip
    if row.user_agent:
        payload["userAgent"] = row.user_agent
    if row.application is not None:
        payload["applicationId"] = row.application.client_id
    if row.secret_name:
        payload["applicationSecret"] = {"name": row.secret_name}
    params: dict[str, Any] = {}
    if row.resource:
        params["resource"] = row.resource
    requested = row.requested_scopes if success else (row.requested_scopes or row.scopes)
    if requested:
        params["scope"] = requested
    payload["params"] = params
    if success:
        payload["scope"] = row.scopes
        payload["tokenTypes"] = ["AccessToken"]
    return {
        "tenantId": TENANT_ID,
        "id": str(row.pk),
        "key": LOG_KEY,
        "payload": payload,
        "createdAt": epoch_ms(row.created_at),
    }


def _timestamp(request: Request, name: str) -> datetime | None:
    """An epoch-milliseconds query parameter (Logto's ``start_time`` / ``end_time``)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > 253402300799999:  # beyond year 9999
        raise invalid_input(f"{name}: must be a number of milliseconds since the epoch.")
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def _logs(request: Request) -> QuerySet[TokenActivity]:
    queryset = TokenActivity.objects.select_related("application__application").order_by("-created_at", "-pk")
    start, end = _timestamp(request, "start_time"), _timestamp(request, "end_time")
    if start is not None and end is not None and start > end:
        raise ApiError(HTTPStatus.BAD_REQUEST, "log.invalid_time_window", "start_time must not be after end_time.")
    if start is not None:
        queryset = queryset.filter(created_at__gte=start)
    if end is not None:
        # Logto's window includes the whole end millisecond.
        queryset = queryset.filter(created_at__lt=end + _ONE_MS)
    log_key = request.query_params.get("logKey")
    if log_key is not None and log_key != LOG_KEY:
        queryset = queryset.none()
    if request.query_params.get("userId"):
        queryset = queryset.none()  # token requests of M2M applications have no user
    application_id = request.query_params.get("applicationId")
    if application_id:
        app = M2MApplication.objects.filter(application__client_id=application_id[:255]).values("pk")[:1]
        queryset = queryset.filter(application__in=app)
    return queryset


class LogListView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_LOGS)

    def get(self, request: Request) -> Response:
        """Newest first, always paginated (``page``, ``page_size``; ``Total-Number`` and ``Link``)."""
        return json_list(paginate(request, _logs(request), optional=False), log_json)


class LogDetailView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_LOGS)

    def get(self, request: Request, log_id: str) -> Response:
        row = None
        if log_id.isascii() and log_id.isdigit() and len(log_id) <= _MAX_ID_DIGITS:
            row = TokenActivity.objects.select_related("application__application").filter(pk=int(log_id)).first()
        if row is None:
            raise not_exists("log", log_id)
        return Response(log_json(row))
