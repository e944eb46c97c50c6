"""Views composing scope permissions with DRF's ``&``, ``|`` and ``~`` (tests/test_drf_composition.py)."""

from __future__ import annotations

from django.urls import path
from rest_framework.permissions import IsAdminUser, IsAuthenticated

from logto_m2m_django.drf import HasScope

from .drf_support import READ, WRITE, _Protected


class ScopeOrAdminView(_Protected):
    permission_classes = [HasScope(READ) | IsAdminUser]


class AdminOrScopeView(_Protected):
    permission_classes = [IsAdminUser | HasScope(READ)]


class EitherScopeView(_Protected):
    permission_classes = [HasScope(WRITE) | HasScope("admin")]


class NotBannedView(_Protected):
    permission_classes = [~HasScope("banned")]


class AuthenticatedNotBannedView(_Protected):
    permission_classes = [IsAuthenticated & ~HasScope("banned")]


class NestedView(_Protected):
    # A group of DRF classes first, then a scope: DRF builds the outer operator.
    permission_classes = [(IsAuthenticated & IsAuthenticated) & HasScope(READ)]


class GroupedView(_Protected):
    permission_classes = [IsAuthenticated & (HasScope(READ) | HasScope(WRITE))]


class NotEitherView(_Protected):
    permission_classes = [IsAuthenticated & ~(HasScope("banned") | HasScope("blocked"))]


urlpatterns = [
    path("scope-or-admin", ScopeOrAdminView.as_view()),
    path("admin-or-scope", AdminOrScopeView.as_view()),
    path("either", EitherScopeView.as_view()),
    path("not-banned", NotBannedView.as_view()),
    path("authenticated-not-banned", AuthenticatedNotBannedView.as_view()),
    path("nested", NestedView.as_view()),
    path("grouped", GroupedView.as_view()),
    path("not-either", NotEitherView.as_view()),
]
