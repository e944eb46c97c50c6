"""The OpenAPI tags of the Management API: one Swagger UI section per topic, as Logto's document has.

An operation's tag comes from its path, by prefix (:data:`TAGS`, first match wins); an operation
whose documentation names its tags (``extend_schema(tags=[...])``) keeps them. A new group of routes
is one more line here.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

#: ``(path prefix, tag, description)``, in the order Swagger UI shows the sections.
TAGS: tuple[tuple[str, str, str], ...] = (
    ("/api/applications", "Applications", "Machine-to-machine applications, their roles and secrets"),
    ("/api/resources", "API resources", "API resources (the token's audience) and their scopes"),
    ("/api/roles", "Roles", "M2M roles: the scopes they hold and the applications holding them"),
    ("/api/organizations", "Organizations", "Organizations and their member applications with roles"),
    ("/api/organization-roles", "Organization roles", "Organization roles and their scopes"),
    ("/api/organization-scopes", "Organization scopes", "Organization scopes"),
    ("/api/logs", "Logs", "Token requests (ExchangeTokenBy.ClientCredentials)"),
    ("/api/configs/oidc/private-keys", "Signing keys", "The signing keys: list, rotate (with a grace period), delete"),
)
#: The token endpoint's tag (its path follows the issuer, so it is named on the view).
TOKEN_TAG = ("OIDC", "The token endpoint: client credentials (RFC 6749 §4.4) for an API resource (RFC 8707)")


def tag_for(path: str) -> str | None:
    """The tag of ``path`` (``/api/roles/{role_id}`` → ``Roles``); None when no prefix matches."""
    for prefix, tag, _description in TAGS:
        if path == prefix or path.startswith(f"{prefix}/"):
            return tag
    return None


def declared_tags() -> list[dict[str, Any]]:
    """The document's top-level ``tags`` (OpenAPI 3 §4.8.1): names and descriptions, in order."""
    return [{"name": tag, "description": text} for _prefix, tag, text in (*TAGS, ("", *TOKEN_TAG))]


class TaggedAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the tag taken from :data:`TAGS` rather than the path's first part."""

    def get_tags(self) -> list[str]:
        tag = tag_for(self.path)
        return [tag] if tag else super().get_tags()
