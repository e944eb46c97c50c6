"""The resource-server toolkit: DRF authentication, permissions and the principal.

Import from here::

    from logto_m2m_django.drf import JWTAccessTokenAuthentication, RequiredScopes, HasScope
"""

from typing import Any

from .authentication import JWTAccessTokenAuthentication
from .organizations import HasOrganization, HasOrganizationResource, organization_audience
from .permissions import HasScope, InsufficientScope, RequiredScopes
from .principal import M2MPrincipal


def exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF's exception handler plus the insufficient_scope challenge (see :mod:`.exceptions`).

    Imported lazily: DRF's views module imports the authentication classes named in
    REST_FRAMEWORK, which import this package.
    """
    from .exceptions import exception_handler as handler

    return handler(exc, context)


__all__ = [
    "HasOrganization",
    "HasOrganizationResource",
    "HasScope",
    "InsufficientScope",
    "JWTAccessTokenAuthentication",
    "M2MPrincipal",
    "RequiredScopes",
    "exception_handler",
    "organization_audience",
]
