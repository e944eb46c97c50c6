"""The calling side, under the server package's name: ``logto_m2m_django.client`` is ``logto_m2m_client``.

The code lives in the ``logto-m2m-client`` distribution (``client/`` in this repository), which a service that
only calls APIs installs alone, without Django. This module re-exports its public names so that
``from logto_m2m_django.client import TokenSource, RequestsAuth`` keeps working; it imports neither Django's
settings nor the ORM.
"""

from logto_m2m_client import (
    AccessToken,
    DiscoveryError,
    HTTPXAuth,
    M2MClientError,
    RequestsAuth,
    TokenEndpointUnavailable,
    TokenRequestError,
    TokenSource,
    Transport,
    UnsafeRedirectError,
)

__all__ = [
    "AccessToken",
    "DiscoveryError",
    "HTTPXAuth",
    "M2MClientError",
    "RequestsAuth",
    "TokenEndpointUnavailable",
    "TokenRequestError",
    "TokenSource",
    "Transport",
    "UnsafeRedirectError",
]
