"""The views the benchmark compares. Each protected one answers what the bare GET answers."""

from __future__ import annotations

from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication, TokenHasScope
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication

from logto_m2m_django.drf import JWTAccessTokenAuthentication, RequiredScopes

PRODUCTS = [
    {"id": 1, "name": "Mechanical keyboard", "price": "89.00"},
    {"id": 2, "name": "USB-C cable", "price": "9.50"},
]


class BareView(APIView):
    """The floor: DRF with no authentication, no permission, no throttle."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response(PRODUCTS)

    def post(self, request: Request) -> Response:
        return Response({"ok": True})


class _RefuseAtOnce(BaseAuthentication):
    def authenticate(self, request: Request) -> None:
        raise exceptions.AuthenticationFailed("Refused.")

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class BareRefusalView(APIView):
    """The floor of every refusal: DRF's own 401 path, from an authentication class that raises at once."""

    authentication_classes = [_RefuseAtOnce]
    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:  # pragma: no cover - never reached
        return Response(PRODUCTS)


class M2MProductsView(APIView):
    """Protected by this package."""

    authentication_classes = [JWTAccessTokenAuthentication]
    permission_classes = [RequiredScopes]
    audience = "https://shopping.api"
    required_scopes = ["read:products"]

    def get(self, request: Request) -> Response:
        return Response(PRODUCTS)


class M2MScopedView(M2MProductsView):
    """Protected by this package, on the API whose tokens carry 1, 10 or 100 scopes."""

    audience = "https://scopes.bench"
    required_scopes = ["s0"]


class DOTProductsView(APIView):
    """Protected by django-oauth-toolkit: an AccessToken row looked up per request."""

    authentication_classes = [OAuth2Authentication]
    permission_classes = [TokenHasScope]
    required_scopes = ["read"]

    def get(self, request: Request) -> Response:
        return Response(PRODUCTS)


class ScopeClaim(BasePermission):
    """simplejwt checks no scope; this is the same check RequiredScopes makes, on its validated token."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        return token is not None and "read:products" in str(token.get("scope", "")).split()


class SimpleJWTProductsView(APIView):
    """Protected by djangorestframework-simplejwt's stateless class, on this package's own tokens."""

    authentication_classes = [JWTStatelessUserAuthentication]
    permission_classes = [ScopeClaim]

    def get(self, request: Request) -> Response:
        return Response(PRODUCTS)
