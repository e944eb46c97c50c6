"""URLs for tests/test_project_checks.py: a composition hiding RequiredScopes, and views that are fine."""

from __future__ import annotations

from django.urls import path
from rest_framework.permissions import IsAdminUser, IsAuthenticated

from logto_m2m_django.drf import RequiredScopes

from .drf_support import AUDIENCE, _Protected


class ComposedView(_Protected):
    permission_classes = [IsAdminUser | RequiredScopes]


class AudienceFromAsViewView(_Protected):
    audience = None
    permission_classes = [IsAuthenticated]


class AudienceProperty(_Protected):
    permission_classes = [RequiredScopes]
    required_scopes: list[str] = []

    @property
    def audience(self) -> str:  # type: ignore[override]
        return f"urn:logto:organization:{self.kwargs['org']}"


urlpatterns = [
    path("composed", ComposedView.as_view()),
    path("as-view", AudienceFromAsViewView.as_view(audience=AUDIENCE)),
    path("orgs/<str:org>", AudienceProperty.as_view()),
]
