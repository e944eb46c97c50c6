"""What every Management API view shares: the guard, JSON in and out, lookups and write helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

from django.db import DataError, IntegrityError, transaction
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ...conf import m2m_settings
from ...models import M2MApplication, Resource, Role
from ..access import ManagementScopes, ManagementTokenAuthentication
from ..builtin import MANAGEMENT_SCOPE
from ..errors import ApiError, exception_handler, invalid_input, not_exists, unprocessable
from ..pagination import Page
from ..parsers import BoundedJSONParser

try:  # the schema is optional at run time: drf-spectacular documents the views when installed
    from drf_spectacular.openapi import AutoSchema as _Schema
except ImportError:  # pragma: no cover
    from rest_framework.schemas.openapi import AutoSchema as _Schema  # type: ignore[assignment]

_MAX_ID_LENGTH = 255


class ManagementView(APIView):
    """Needs a Bearer access token from this project's token endpoint for the Management API resource
    (``LOGTO_M2M["MANAGEMENT_API_INDICATOR"]``) with the scope ``all``, or the one the view declares
    for the method (``required_scopes_by_method = route_scopes(read=..., write=...)``). A view that
    declares nothing needs ``all``."""

    authentication_classes = [ManagementTokenAuthentication]
    permission_classes = [ManagementScopes]
    required_scopes = [MANAGEMENT_SCOPE]
    required_scopes_by_method: dict[str, list[str]] | None = None
    renderer_classes = [JSONRenderer]
    parser_classes = [BoundedJSONParser]
    throttle_classes: list[Any] = []
    schema = _Schema()

    @property
    def audience(self) -> str:
        return m2m_settings.MANAGEMENT_API_INDICATOR

    def get_exception_handler(self) -> Callable[..., Response | None]:
        return exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # the guard first: 401/403 before any 400
        texts = [*kwargs.values(), *(x for pair in request.query_params.lists() for x in (pair[0], *pair[1]))]
        if any("\x00" in str(text) for text in texts):
            raise invalid_input("NUL characters are not allowed in the URL.")

    def validated(self, request: Request, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        """The JSON body checked by ``serializer_class``; unknown keys are dropped (Logto does)."""
        data = request.data
        if not isinstance(data, dict):
            raise invalid_input("The body must be a JSON object.")
        problem = _bad_text(data)
        if problem:
            raise invalid_input(problem)
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


def _bad_text(value: Any, depth: int = 0) -> str | None:
    """Strings the databases can't store (NUL, lone surrogates) anywhere in a JSON value."""
    if depth > 64:
        return "The JSON body is nested too deeply."
    if isinstance(value, str):
        if "\x00" in value:
            return "Strings must not contain NUL characters."
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "Strings must be valid Unicode."
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _bad_text(key, depth + 1) or _bad_text(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _bad_text(item, depth + 1)
            if problem:
                return problem
    return None


def _usable_id(value: str) -> bool:
    return 0 < len(value) <= _MAX_ID_LENGTH and "\x00" not in value


def get_application(application_id: str, *, lock: bool = False) -> M2MApplication:
    queryset = M2MApplication.objects.select_related("application")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    app = queryset.filter(application__client_id=application_id).first() if _usable_id(application_id) else None
    if app is None:
        raise not_exists("application", application_id)
    return app


def get_resource(resource_id: str) -> Resource:
    resource = Resource.objects.filter(pk=resource_id).first() if _usable_id(resource_id) else None
    if resource is None:
        raise not_exists("resource", resource_id)
    return resource


def get_role(role_id: str) -> Role:
    role = Role.objects.filter(pk=role_id).first() if _usable_id(role_id) else None
    if role is None:
        raise not_exists("role", role_id)
    return role


@contextmanager
def writing(conflict: Callable[[], ApiError] | None = None) -> Iterator[None]:
    """A transaction whose constraint failures become 422 (``conflict()`` for a unique clash, if given)."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        if conflict is not None and _is_unique_violation(exc):
            raise conflict() from exc
        raise unprocessable("entity.db_constraint_violated", "A database constraint was violated.") from exc
    except DataError as exc:
        raise unprocessable("entity.value_too_long", "A value is too long or out of range.") from exc


def _is_unique_violation(exc: IntegrityError) -> bool:
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlstate is not None:
        return bool(sqlstate == "23505")
    return "UNIQUE" in str(exc).upper()


def json_list(page: Page, render: Callable[[Any], dict[str, Any]]) -> Response:
    return Response([render(item) for item in page.items], headers=page.headers)


def empty(status: int) -> HttpResponse:
    """A success without a body: ``Content-Length: 0`` so that clients skip JSON parsing."""
    response = HttpResponse(b"", status=status)
    del response["Content-Type"]
    if status != HTTPStatus.NO_CONTENT:
        response["Content-Length"] = "0"
    return response


def ids_in_order(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))
