"""An optional DRF exception handler that adds the RFC 6750 ``insufficient_scope``
challenge to a 403 that no scope permission could answer itself.

Scope permissions and their compositions (``&``, ``|``, ``~``, see
:mod:`.composition`) raise their challenge on their own. The one case left is a
scope permission inside an ``|`` or ``~`` that DRF built (its left operand a
group of DRF classes, e.g. ``(A | B) | HasScope("x")``): DRF's operators only
return a boolean. Set ``REST_FRAMEWORK["EXCEPTION_HANDLER"]`` to
``"logto_m2m_django.drf.exception_handler"`` (it wraps DRF's default) to cover it,
or write the scope permission first."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .permissions import challenge, missing_scopes


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.PermissionDenied) or "WWW-Authenticate" in response:
        return response
    request = context.get("request")
    missing = missing_scopes(request) if request is not None else None
    if missing is not None:
        response["WWW-Authenticate"] = challenge(missing)
    return response
