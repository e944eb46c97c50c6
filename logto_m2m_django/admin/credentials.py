"""The one-time page that shows a new secret, with ready-to-paste snippets.

The page is the body of the POST response that created the secret: the
value is never stored in the session, a message, a log or the database, so it
can't be shown again.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from ..models import M2MApplication, Resource
from ..provisioning import effective_permissions
from ._common import admin_change_url, template, token_endpoint


@dataclass(frozen=True)
class Snippet:
    resource: Resource | None
    scopes: tuple[str, ...]
    curl: str
    python: str


def curl_snippet(endpoint: str, client_id: str, secret: str, resource: str | None, scopes: Sequence[str]) -> str:
    lines = [
        f"curl --request POST {shlex.quote(endpoint)} \\",
        f"  --user {shlex.quote(f'{client_id}:{secret}')} \\",
        "  --header 'Content-Type: application/x-www-form-urlencoded' \\",
        "  --data-urlencode 'grant_type=client_credentials'",
    ]
    if resource:
        lines[-1] += " \\"
        lines.append(f"  --data-urlencode {shlex.quote(f'resource={resource}')}")
    if scopes:
        lines[-1] += " \\"
        lines.append(f"  --data-urlencode {shlex.quote('scope=' + ' '.join(scopes))}")
    return "\n".join(lines)


def python_snippet(endpoint: str, client_id: str, secret: str, resource: str | None, scopes: Sequence[str]) -> str:
    def lit(value: str) -> str:
        return json.dumps(value)  # a valid Python string literal for any str

    data = ['        "grant_type": "client_credentials",']
    if resource:
        data.append(f'        "resource": {lit(resource)},')
    if scopes:
        data.append(f'        "scope": {lit(" ".join(scopes))},')
    return "\n".join(
        [
            "import requests",
            "",
            "response = requests.post(",
            f"    {lit(endpoint)},",
            f"    auth=({lit(client_id)}, {lit(secret)}),",
            "    data={",
            *data,
            "    },",
            "    timeout=10,",
            ")",
            "response.raise_for_status()",
            'access_token = response.json()["access_token"]',
        ]
    )


def build_snippets(
    endpoint: str, client_id: str, secret: str, grants: Mapping[Resource, Sequence[str]]
) -> list[Snippet]:
    """One pair of snippets per resource the app holds permissions on (or one without a resource)."""
    if not grants:
        return [
            Snippet(
                None,
                (),
                curl_snippet(endpoint, client_id, secret, None, ()),
                python_snippet(endpoint, client_id, secret, None, ()),
            )
        ]
    return [
        Snippet(
            resource,
            tuple(scopes),
            curl_snippet(endpoint, client_id, secret, resource.indicator, scopes),
            python_snippet(endpoint, client_id, secret, resource.indicator, scopes),
        )
        for resource, scopes in grants.items()
    ]


def one_time_response(
    request: HttpRequest,
    admin_context: Mapping[str, Any],
    m2m: M2MApplication,
    secret: str,
    *,
    secret_name: str | None = None,
) -> TemplateResponse:
    """Render the credentials page; it is not cached and not stored anywhere."""
    endpoint = token_endpoint(request)
    context = {
        **admin_context,
        "title": f"{m2m.name}: {secret_name}" if secret_name else m2m.name,
        "application": m2m,
        "client_id": m2m.client_id,
        "client_secret": secret,
        "secret_name": secret_name,
        "token_endpoint": endpoint,
        "snippets": build_snippets(endpoint, m2m.client_id, secret, effective_permissions(m2m)),
        "change_url": admin_change_url(m2m),
    }
    response = TemplateResponse(request, template("credentials.html"), context)
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"
    return response
