"""The Django request of the token request being answered (oauthlib's own request does not carry it).

The token view's oauthlib bridge sets it around the grant; the validator and the token generator leave
notes on it for the activity log with :func:`note`.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest

current_request: ContextVar[HttpRequest | None] = ContextVar("logto_m2m_token_request", default=None)


def note(attribute: str, value: Any) -> None:
    """Set ``attribute`` on the Django request being answered, if there is one."""
    django_request = current_request.get()
    if django_request is not None:
        setattr(django_request, attribute, value)
