"""The custom-claims dry run: what the hook would add to an application's tokens, shown in the admin.

The application's page runs the hook once per API resource the application holds a role for, with
the token it would get (all its scopes there); the token inspector runs it for the pasted token's
application and claims. The hook gets ``api.dry_run = True``; nothing is issued or recorded.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from .. import tokens
from ..claims import context as claims_context
from ..claims import hook as claims_hook
from ..conf import m2m_settings
from ..models import M2MApplication, Resource
from ..provisioning import effective_permissions

#: Resources previewed on an application's page at most (one hook run each).
MAX_RESOURCES = 10
OK, FAIL, DENIED = "ok", "fail", "denied"


@dataclass(frozen=True)
class Preview:
    status: str  # OK, FAIL or DENIED
    claims_json: str  # the claims the hook would add (OK), as indented JSON
    detail: str  # what happens to the token request


def preview(claims: dict[str, Any], application: dict[str, Any] | None) -> Preview | None:
    """Run the hook for a token with ``claims``; None when no hook is configured."""
    outcome = claims_hook.evaluate(claims, application, dry_run=True)
    if outcome is None:
        return None
    if outcome.denied is not None:
        message = outcome.denied or _("(no message)")
        return Preview(DENIED, "", _("The hook denies the request: 400 access_denied, “%(m)s”.") % {"m": message})
    if outcome.error:
        if m2m_settings.CUSTOM_CLAIMS_BLOCK_ON_ERROR:
            effect = _("the token request is refused (400 invalid_request, CUSTOM_CLAIMS_BLOCK_ON_ERROR).")
        else:
            effect = _("the token is issued without custom claims.")
        return Preview(FAIL, "", _("The hook fails (%(why)s): %(effect)s") % {"why": outcome.detail, "effect": effect})
    detail = _("Added to the token.")
    if outcome.dropped:
        detail = _("Added to the token; reserved claims dropped: %(names)s.") % {"names": ", ".join(outcome.dropped)}
    return Preview(OK, json.dumps(outcome.claims, indent=2, ensure_ascii=False, sort_keys=True), detail)


def _token_claims(m2m: M2MApplication, resource: Resource, scopes: list[str]) -> dict[str, Any]:
    return tokens.build_claims(
        issuer=m2m_settings.ISSUER or "",
        client_id=m2m.client_id,
        audience=resource.indicator,
        scopes=scopes,
        lifetime=resource.access_token_ttl,
        now=int(time.time()),
    )


def application_previews(m2m: M2MApplication) -> list[tuple[Resource, Preview]] | None:
    """One dry run per resource the application holds scopes on (the default resource when none)."""
    if not claims_hook.is_configured():
        return None
    grouped = list(effective_permissions(m2m).items())[:MAX_RESOURCES]
    if not grouped:
        default = Resource.objects.filter(is_default=True).first()
        grouped = [(default, [])] if default is not None else []
    application = claims_context.application_from_model(m2m)
    results = []
    for resource, scopes in grouped:
        result = preview(_token_claims(m2m, resource, scopes), application)
        if result is not None:
            results.append((resource, result))
    return results


def application_preview_html(m2m: M2MApplication) -> SafeString:
    """The application page's read-only "Custom claims" field."""
    results = application_previews(m2m)
    if results is None:
        return format_html(
            "<span class='m2m-muted'>{}</span>",
            _('No custom claims hook is configured (LOGTO_M2M["CUSTOM_CLAIMS"]).'),
        )
    if not results:
        return format_html("<span class='m2m-muted'>{}</span>", _("The application holds no role for an API resource."))
    rows = format_html_join(
        "",
        "<li class='m2m-claims-{}'><strong>{}</strong> <code>{}</code><br>{}{}</li>",
        (
            (
                result.status,
                resource.name,
                resource.indicator,
                format_html("<pre class='m2m-code'>{}</pre>", result.claims_json) if result.claims_json else "",
                result.detail,
            )
            for resource, result in results
        ),
    )
    return format_html("<ul class='m2m-permissions' id='m2m-custom-claims'>{}</ul>", rows)


def token_preview(claims: dict[str, Any], m2m: M2MApplication | None) -> Preview | None:
    """The inspector's dry run: the hook with the pasted token's claims and its application as it is now."""
    needed = ("jti", "aud", "client_id")
    if m2m is None or not all(isinstance(claims.get(name), (str, list)) for name in needed):
        return None
    return preview(claims, claims_context.application_from_model(m2m))
