"""Field helpers shared by the models."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..conf import m2m_settings
from ..secrets import generate_id

#: RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN_RE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


def new_id() -> str:
    return generate_id()


def indicator_problem(value: str) -> str | None:
    """Why ``value`` is not a valid RFC 8707 resource indicator, or None when it is."""
    if not value:
        return str(_("The indicator is required."))
    if any(ch.isspace() or ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        return str(_("The indicator must not contain spaces or control characters."))
    try:
        parts = urlsplit(value)
    except ValueError:
        return str(_("The indicator is not a valid URI."))
    # RFC 8707 §2: an absolute URI (RFC 3986 §4.3) ...
    if not parts.scheme or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme):
        return str(_("The indicator must be an absolute URI, such as https://shopping.api."))
    if parts.scheme.lower() in ("http", "https") and not parts.netloc:
        return str(_("The indicator must be an absolute URI, such as https://shopping.api."))
    if not (parts.netloc or parts.path):
        return str(_("The indicator must be an absolute URI, such as https://shopping.api."))
    # ... that MUST NOT include a fragment component.
    if "#" in value:
        return str(_("The indicator must not contain a fragment (#...)."))
    return None


def validate_indicator(value: str) -> None:
    problem = indicator_problem(value)
    if problem:
        raise ValidationError(problem, code="invalid_indicator")


def validate_scope_name(value: str) -> None:
    if not SCOPE_TOKEN_RE.fullmatch(value or ""):
        raise ValidationError(
            _(
                "A scope name is one RFC 6749 scope token: printable ASCII without spaces, "
                'double quotes or backslashes (e.g. "read:products").'
            ),
            code="invalid_scope_name",
        )


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON (raises TypeError / ValueError / RecursionError if not JSON)."""
    return len(json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8"))


def _holds_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def validate_custom_data(value: Any) -> None:
    """An application's ``customData``: a JSON object (as Logto) of at most ``CUSTOM_DATA_MAX_BYTES``."""
    if not isinstance(value, dict):
        raise ValidationError(_("Custom data must be a JSON object."), code="not_an_object")
    try:
        size = json_size(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(_("Custom data must be plain JSON."), code="not_json") from exc
    if _holds_nul(value):
        # PostgreSQL's jsonb can't hold a NUL character.
        raise ValidationError(_("Custom data must not contain NUL characters."), code="nul")
    limit = m2m_settings.CUSTOM_DATA_MAX_BYTES
    if size > limit:
        raise ValidationError(
            _("Custom data holds at most %(limit)d bytes of JSON (this is %(size)d)."),
            code="too_large",
            params={"limit": limit, "size": size},
        )
