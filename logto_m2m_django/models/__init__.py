"""The models of logto_m2m_django, one module per concept."""

from .activity import Outcome, TokenActivity
from .applications import ApplicationSecret, M2MApplication
from .changes import ChangeCounter
from .keys import KeyStatus, SigningKey
from .organizations import (
    Organization,
    OrganizationMembership,
    OrganizationRole,
    OrganizationScope,
    organization_urn,
)
from .resources import Resource, Scope
from .roles import Role, RoleType

__all__ = [
    "ApplicationSecret",
    "ChangeCounter",
    "KeyStatus",
    "M2MApplication",
    "Organization",
    "OrganizationMembership",
    "OrganizationRole",
    "OrganizationScope",
    "Outcome",
    "Resource",
    "Role",
    "RoleType",
    "Scope",
    "SigningKey",
    "TokenActivity",
    "organization_urn",
]
