"""Error bodies of the Management API: ``{"code": "<domain.key>", "message": "...", "details"?: ...}``.

Views raise :class:`ApiError` (or let DRF raise its own exceptions); :func:`exception_handler` is the one
place that turns both into Logto's error body, keeping DRF's ``WWW-Authenticate`` challenges.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger("logto_m2m_django.management_api")

#: ``Retry-After`` (seconds) of the 503 answered while the database can't be reached.
DATABASE_RETRY_AFTER = 5


class ApiError(Exception):
    """A Management API failure with its HTTP status and Logto error code."""

    def __init__(self, status: int, code: str, message: str, details: Any = None, data: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.data = status, code, message, details, data

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        if self.data is not None:
            body["data"] = self.data
        return body


def invalid_input(details: Any, message: str = "The request is invalid.") -> ApiError:
    return ApiError(HTTPStatus.BAD_REQUEST, "guard.invalid_input", message, details=details)


def not_exists(entity: str, entity_id: str) -> ApiError:
    return ApiError(
        HTTPStatus.NOT_FOUND,
        "entity.not_exists_with_id",
        f"The {entity} with ID `{entity_id}` does not exist.",
        data={"name": entity, "id": entity_id},
    )


def not_found(message: str = "The entity does not exist.") -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, "entity.not_found", message)


def unprocessable(code: str, message: str, **data: Any) -> ApiError:
    return ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, code, message, data=data or None)


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    """DRF's nested validation detail as ``"field: message"`` lines."""
    if isinstance(detail, dict):
        lines: list[str] = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            lines.extend(_flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix)))
        return lines
    if isinstance(detail, list):
        out: list[str] = []
        for item in detail:
            out.extend(_flatten(item, prefix))
        return out
    return [f"{prefix}: {detail}" if prefix else str(detail)]


_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "guard.invalid_input",
    exceptions.NotAuthenticated: "auth.authorization_header_missing",
    exceptions.AuthenticationFailed: "auth.unauthorized",
    exceptions.PermissionDenied: "auth.forbidden",
    exceptions.NotFound: "entity.not_found",
    exceptions.MethodNotAllowed: "request.method_not_allowed",
    exceptions.UnsupportedMediaType: "request.unsupported_media_type",
    exceptions.NotAcceptable: "request.not_acceptable",
    exceptions.Throttled: "request.too_many_requests",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler of the Management API views: every error is a JSON body.

    A database that can't be reached is a 503 with ``Retry-After``; any other unexpected error is a
    JSON 500 (logged with its traceback), except with ``DEBUG`` on, where Django's debug page helps more.
    """
    if isinstance(exc, ApiError):
        return Response(exc.body(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return _unexpected(exc, context)
    if not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        lines = _flatten(exc.detail)
        response.data = {
            "code": "guard.invalid_input",
            "message": "The request is invalid.",
            "details": "\n".join(lines),
        }
        return response
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "request.general")
    response.data = {"code": code, "message": str(exc.detail)}
    return response


def _unexpected(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    where = f"{request.method} {request.path}" if request is not None else "the Management API"
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The server's own message (host, port, user) stays in the log, not in the answer.
        logger.error("The database is unreachable while answering %s: %s", where, exc)
        set_rollback()
        body = {"code": "database.unavailable", "message": "The database is unavailable; try again shortly."}
        return Response(body, status=HTTPStatus.SERVICE_UNAVAILABLE, headers={"Retry-After": str(DATABASE_RETRY_AFTER)})
    if settings.DEBUG:
        return None  # Django's debug page, with the traceback
    logger.error("Unexpected error while answering %s", where, exc_info=exc)
    set_rollback()
    body = {"code": "unexpected_error", "message": "An unexpected error occurred."}
    return Response(body, status=HTTPStatus.INTERNAL_SERVER_ERROR)


def route_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """The JSON 404 of a path under the API's collections that names no route (no token needed)."""
    body = {"code": "entity.not_found", "message": f"No Management API route matches {request.method} {request.path}."}
    return JsonResponse(body, status=HTTPStatus.NOT_FOUND)
