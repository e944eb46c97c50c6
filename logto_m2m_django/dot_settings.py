"""django-oauth-toolkit checks that do not apply to this package, for ``SILENCED_SYSTEM_CHECKS``.

This module imports nothing, so a settings file may use it::

    from logto_m2m_django.dot_settings import SILENCED_DOT_CHECKS
    SILENCED_SYSTEM_CHECKS = [*SILENCED_DOT_CHECKS]

DOT's ``check --deploy`` warnings (RFC 9700, the OAuth 2.0 Security BCP) are about DOT's own
endpoints and token tables: the authorization, implicit and password grants, PKCE, redirect URIs
and stored access/refresh tokens. This package serves only ``POST /oidc/token`` for the
client-credentials grant (RFC 6749 §4.4) with self-contained JWTs, and never routes
``oauth2_provider.urls``, so none of them describes this deployment. A project that also includes
``oauth2_provider.urls`` must not silence them.
"""

#: Each id, and why it does not apply.
DOT_CHECK_REASONS = {
    "oauth2_provider.W001": "implicit grant: DOT's authorize endpoint is not routed",
    "oauth2_provider.W002": "password grant: only client_credentials is accepted by /oidc/token",
    "oauth2_provider.W003": "PKCE: there is no authorization-code flow",
    "oauth2_provider.W004": "tokens in the query string: refused by the DRF classes unless ACCEPT_TOKEN_IN_QUERY",
    "oauth2_provider.W005": "the iss authorization-response parameter: there is no authorization response",
    "oauth2_provider.W006": "tokens stored in plaintext: no access or refresh token is stored (JWTs)",
    "oauth2_provider.W007": "refresh-token replay: no refresh token is issued",
    "oauth2_provider.W008": "http redirect URIs: there are no redirects",
}

SILENCED_DOT_CHECKS = list(DOT_CHECK_REASONS)
