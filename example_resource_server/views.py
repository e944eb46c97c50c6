"""The shopping API again, served by a process that only knows the issuer URL."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from logto_m2m_django.drf import (
    HasOrganization,
    HasScope,
    JWTAccessTokenAuthentication,
    RequiredScopes,
    organization_audience,
)

PRODUCTS = [
    {"id": 1, "name": "Mechanical keyboard", "price": "89.00"},
    {"id": 2, "name": "USB-C cable", "price": "9.50"},
]


class ProductsView(APIView):
    authentication_classes = [JWTAccessTokenAuthentication]
    permission_classes = [RequiredScopes]
    audience = "https://shopping.api"
    required_scopes_by_method = {"GET": ["read:products"], "POST": ["write:products"]}

    def get(self, request: Request) -> Response:
        return Response({"products": PRODUCTS, "client_id": request.user.client_id})

    def post(self, request: Request) -> Response:
        return Response({"created": True}, status=201)


class OrganizationReportView(APIView):
    """Needs a Logto organization token for the organization in the URL, with ``read:reports``."""

    authentication_classes = [JWTAccessTokenAuthentication]
    permission_classes = [HasOrganization() & HasScope("read:reports")]

    @property
    def audience(self) -> str:
        return organization_audience(self.kwargs["organization_id"])

    def get(self, request: Request, organization_id: str) -> Response:
        return Response({"organization_id": organization_id, "orders": 42})
