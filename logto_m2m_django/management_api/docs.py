"""A Swagger UI page for the Management API that works offline.

Swagger UI's files come from ``drf-spectacular-sidecar`` (add ``"drf_spectacular_sidecar"`` to
``INSTALLED_APPS``; they are served as static files). A developer pastes an app ID and secret under
*Authorize* (OAuth 2.0 client credentials); the page adds the ``resource`` parameter (the management
indicator) to the token request, which Swagger UI does not send by itself, then tries the endpoints.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from ..conf import m2m_settings
from .builtin import MANAGEMENT_SCOPE
from .schema import token_url


class SwaggerUIView(View):
    template_name = "logto_m2m_django/management_api/swagger_ui.html"
    schema_url_name = "logto_m2m_management:schema"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        context = {
            "config": {
                "schemaUrl": reverse(self.schema_url_name),
                "tokenUrl": token_url(),
                "resource": m2m_settings.MANAGEMENT_API_INDICATOR,
                "scope": MANAGEMENT_SCOPE,
            }
        }
        response = render(request, self.template_name, context)
        response["Cache-Control"] = "no-store"
        return response
