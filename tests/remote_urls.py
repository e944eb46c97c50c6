"""URLs for the remote-mode and Logto interop tests: a shopping API and an organization API."""

from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from logto_m2m_django.drf import (
    HasOrganization,
    HasOrganizationResource,
    HasScope,
    JWTAccessTokenAuthentication,
    RequiredScopes,
    organization_audience,
)


class ShopView(APIView):
    authentication_classes = [JWTAccessTokenAuthentication]
    permission_classes = [RequiredScopes]
    audience = "https://shopping.api"
    required_scopes = ["read:products"]

    def get(self, request: Request) -> Response:
        return Response({"client_id": request.user.client_id, "scopes": sorted(request.user.scopes)})


class OrganizationMembersView(APIView):
    """Logto organization tokens for the organization in the URL, with the read:members organization scope."""

    authentication_classes = [JWTAccessTokenAuthentication]
    permission_classes = [HasOrganization() & HasScope("read:members")]

    @property
    def audience(self) -> str:
        return organization_audience(self.kwargs["organization_id"])

    def get(self, request: Request, organization_id: str) -> Response:
        return Response({"organization_id": organization_id, "client_id": request.user.client_id})


class FixedOrganizationView(APIView):
    authentication_classes = [JWTAccessTokenAuthentication]
    permission_classes = [HasOrganization("org-acme")]
    audience = organization_audience("org-acme")

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class OrganizationReportsView(APIView):
    """Logto organization-level API resource tokens: the reports API, for the organization in the URL."""

    authentication_classes = [JWTAccessTokenAuthentication]
    permission_classes = [HasOrganizationResource() & HasScope("export:reports")]
    audience = "https://reports.api"

    def get(self, request: Request, organization_id: str) -> Response:
        return Response(
            {"organization_id": request.user.claims["organization_id"], "scopes": sorted(request.user.scopes)}
        )


class FixedOrganizationReportsView(APIView):
    authentication_classes = [JWTAccessTokenAuthentication]
    permission_classes = [HasOrganizationResource("org-acme")]
    audience = "https://reports.api"

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("shop", ShopView.as_view()),
    path("orgs/<str:organization_id>/members", OrganizationMembersView.as_view()),
    path("acme", FixedOrganizationView.as_view()),
    path("orgs/<str:organization_id>/reports", OrganizationReportsView.as_view()),
    path("acme/reports", FixedOrganizationReportsView.as_view()),
]
