"""Error bodies of the Management API: ``{"code": "<domain.key>", "message": "...", "details"?: ...}``.

Views raise :class:`ApiError` (or let DRF raise its own exceptions); :func:`exception_handler` is the one
place that turns both into Logto's error body, keeping DRF's ``WWW-Authenticate`` challenges.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


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
    """DRF exception handler of the Management API views."""
    if isinstance(exc, ApiError):
        return Response(exc.body(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
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
