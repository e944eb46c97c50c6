"""A tenant-scoped endpoint: each customer organization's sales report, for M2M apps acting inside it.

An app that is a member of the organization asks for an organization-level API resource token
(``resource=https://shopping.api&organization_id=<id>``); its ``read:products`` comes from its
organization roles there, and the token's ``organization_id`` claim must name the organization in the URL.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from logto_m2m_django.drf import HasOrganizationResource, HasScope, JWTAccessTokenAuthentication


class OrganizationReportsView(APIView):
    authentication_classes = [JWTAccessTokenAuthentication]
    permission_classes = [HasOrganizationResource() & HasScope("read:products")]
    audience = "https://shopping.api"

    def get(self, request: Request, organization_id: str) -> Response:
        # A real API would filter its rows by organization_id here.
        return Response({"organization_id": organization_id, "orders": 42, "client_id": request.user.client_id})
