"""logto-m2m-client: client-credentials access tokens for an M2M app, standard library only.

The calling side of logto-m2m-django (and of a Logto tenant), installable without Django::

    from logto_m2m_client import RequestsAuth, TokenSource

The same objects are importable from ``logto_m2m_django.client`` where the server package is installed.
"""

from .source import (
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

__version__ = "0.1.0"

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
