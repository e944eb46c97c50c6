"""Keep issued access tokens out of oauthlib's DEBUG log."""

from __future__ import annotations

import logging

#: oauthlib's client-credentials grant logs the whole issued token dict at DEBUG.
CLIENT_CREDENTIALS_LOGGER = "oauthlib.oauth2.rfc6749.grant_types.client_credentials"


class DropIssuedTokens(logging.Filter):
    """Drops oauthlib's "Issuing token ..." record, which carries the bearer token itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Issuing token"))


def install() -> None:
    logger = logging.getLogger(CLIENT_CREDENTIALS_LOGGER)
    if not any(isinstance(f, DropIssuedTokens) for f in logger.filters):
        logger.addFilter(DropIssuedTokens())
