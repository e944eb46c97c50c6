"""Request validation (DRF serializers) and the JSON of each Logto object (plain functions).

Output is built by hand, not by ``ModelSerializer``: Logto's shapes differ from the models' (camelCase,
epoch milliseconds, fields stored in ``logto_metadata``), and list endpoints stay cheap.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rest_framework import serializers

from ..models import ApplicationSecret, M2MApplication, Resource, Role, Scope
from ..models._fields import indicator_problem, validate_custom_data

TENANT_ID = "default"
APPLICATION_TYPES = ("Native", "SPA", "Traditional", "MachineToMachine", "Protected", "SAML")
ROLE_TYPES = ("User", "MachineToMachine")
MAX_TTL = 86400 * 30
#: Largest epoch-millisecond value accepted (year 9999).
MAX_EPOCH_MS = 253_402_300_799_000


def epoch_ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def _nullable(text: str) -> str | None:
    return text or None


# -- output ------------------------------------------------------------------

DEFAULT_OIDC_METADATA: dict[str, Any] = {"redirectUris": [], "postLogoutRedirectUris": []}


def application_json(m2m: M2MApplication, *, secret: str | None = None, is_admin: bool | None = None) -> dict[str, Any]:
    meta = m2m.logto_metadata or {}
    data: dict[str, Any] = {
        "tenantId": TENANT_ID,
        "id": m2m.client_id,
        "name": m2m.name,
        "description": _nullable(m2m.description),
        "type": "MachineToMachine",
        "oidcClientMetadata": meta.get("oidcClientMetadata") or dict(DEFAULT_OIDC_METADATA),
        "customClientMetadata": meta.get("customClientMetadata") or {},
        "protectedAppMetadata": None,
        "customData": m2m.custom_data or {},
        "isThirdParty": bool(meta.get("isThirdParty", False)),
        "appLevelAccessControlEnabled": bool(meta.get("appLevelAccessControlEnabled", False)),
        "createdAt": epoch_ms(m2m.created_at),
    }
    if secret is not None:
        data["secret"] = secret
    if is_admin is not None:
        data["isAdmin"] = is_admin
    return data


def secret_json(row: ApplicationSecret, application_id: str, *, value: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tenantId": TENANT_ID,
        "applicationId": application_id,
        "name": row.name,
        "createdAt": epoch_ms(row.created_at),
        "expiresAt": epoch_ms(row.expires_at),
    }
    if value is not None:
        data["value"] = value
    return data


def resource_json(resource: Resource, *, scopes: list[Scope] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tenantId": TENANT_ID,
        "id": resource.id,
        "name": resource.name,
        "indicator": resource.indicator,
        "isDefault": resource.is_default,
        "accessTokenTtl": resource.access_token_ttl,
    }
    if scopes is not None:
        data["scopes"] = [scope_json(s) for s in scopes]
    return data


def scope_json(scope: Scope, *, with_resource: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tenantId": TENANT_ID,
        "id": scope.id,
        "resourceId": scope.resource_id,
        "name": scope.name,
        "description": _nullable(scope.description),
        "createdAt": epoch_ms(scope.created_at),
    }
    if with_resource:
        data["resource"] = resource_json(scope.resource)
    return data


def role_json(role: Role) -> dict[str, Any]:
    return {
        "tenantId": TENANT_ID,
        "id": role.id,
        "name": role.name,
        "description": role.description,
        "type": role.type,
        "isDefault": role.is_default,
    }


# -- input -------------------------------------------------------------------


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` / ``false`` only (Logto's guard does not coerce strings)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class TextField(serializers.CharField):
    """A JSON string (numbers are not coerced), without NUL characters."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:
            raise serializers.ValidationError("NUL characters are not allowed.")
        return str(super().to_internal_value(data))


class IntegerOnlyField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class IdListField(serializers.ListField):
    child = TextField(max_length=256)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 1000)
        super().__init__(**kwargs)


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise serializers.ValidationError("Expected a JSON object.")
    return value


class JSONObjectField(serializers.JSONField):
    def to_internal_value(self, data: Any) -> dict[str, Any]:
        return _object(data)


class CustomDataField(JSONObjectField):
    """``customData``: a JSON object of at most ``LOGTO_M2M["CUSTOM_DATA_MAX_BYTES"]``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validators", [validate_custom_data])
        super().__init__(**kwargs)


def custom_data_patch(data: Any) -> dict[str, Any]:
    """The body of ``PATCH /api/applications/{id}/custom-data``: a JSON object (400 otherwise, as Logto)."""
    value: dict[str, Any] = CustomDataField().run_validation(data)
    return value


class ApplicationCreateSerializer(serializers.Serializer):
    name = TextField(min_length=1, max_length=256, trim_whitespace=False)
    type = serializers.ChoiceField(choices=APPLICATION_TYPES)
    description = TextField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    customData = CustomDataField(required=False)  # noqa: N815 - Logto's field names
    customClientMetadata = JSONObjectField(required=False)  # noqa: N815
    oidcClientMetadata = JSONObjectField(required=False)  # noqa: N815
    isThirdParty = StrictBooleanField(required=False)  # noqa: N815
    protectedAppMetadata = serializers.JSONField(required=False, allow_null=True)  # noqa: N815


class ApplicationUpdateSerializer(serializers.Serializer):
    name = TextField(required=False, min_length=1, max_length=256, trim_whitespace=False)
    description = TextField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    customData = CustomDataField(required=False)  # noqa: N815
    customClientMetadata = JSONObjectField(required=False)  # noqa: N815
    oidcClientMetadata = JSONObjectField(required=False)  # noqa: N815
    appLevelAccessControlEnabled = StrictBooleanField(required=False)  # noqa: N815
    isAdmin = StrictBooleanField(required=False)  # noqa: N815
    protectedAppMetadata = serializers.JSONField(required=False, allow_null=True)  # noqa: N815


class RoleIdsSerializer(serializers.Serializer):
    roleIds = IdListField()  # noqa: N815


class SecretCreateSerializer(serializers.Serializer):
    name = TextField(min_length=1, max_length=256, trim_whitespace=False)
    expiresAt = IntegerOnlyField(required=False, allow_null=True, min_value=0, max_value=MAX_EPOCH_MS)  # noqa: N815


class SecretRenameSerializer(serializers.Serializer):
    name = TextField(min_length=1, max_length=256, trim_whitespace=False)


def _validate_indicator(value: str) -> None:
    problem = indicator_problem(value)
    if problem:
        raise serializers.ValidationError(problem)


class ResourceCreateSerializer(serializers.Serializer):
    name = TextField(min_length=1, max_length=256, trim_whitespace=False)
    indicator = TextField(min_length=1, max_length=256, trim_whitespace=False, validators=[_validate_indicator])
    accessTokenTtl = IntegerOnlyField(required=False, min_value=1, max_value=MAX_TTL)  # noqa: N815


class ResourceUpdateSerializer(serializers.Serializer):
    name = TextField(required=False, min_length=1, max_length=256, trim_whitespace=False)
    accessTokenTtl = IntegerOnlyField(required=False, min_value=1, max_value=MAX_TTL)  # noqa: N815


class IsDefaultSerializer(serializers.Serializer):
    isDefault = StrictBooleanField()  # noqa: N815


class ScopeCreateSerializer(serializers.Serializer):
    name = TextField(min_length=1, max_length=256, trim_whitespace=False)
    description = TextField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)


class ScopeUpdateSerializer(serializers.Serializer):
    name = TextField(required=False, min_length=1, max_length=256, trim_whitespace=False)
    description = TextField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)


class RoleCreateSerializer(serializers.Serializer):
    name = TextField(min_length=1, max_length=128, trim_whitespace=False)
    description = TextField(min_length=1, max_length=128, trim_whitespace=False)
    type = serializers.ChoiceField(choices=ROLE_TYPES, required=False)
    isDefault = StrictBooleanField(required=False)  # noqa: N815
    scopeIds = IdListField(required=False)  # noqa: N815


class RoleUpdateSerializer(serializers.Serializer):
    name = TextField(required=False, min_length=1, max_length=128, trim_whitespace=False)
    description = TextField(required=False, min_length=1, max_length=128, trim_whitespace=False)
    isDefault = StrictBooleanField(required=False)  # noqa: N815


class ScopeIdsSerializer(serializers.Serializer):
    scopeIds = IdListField(min_length=1)  # noqa: N815


class ApplicationIdsSerializer(serializers.Serializer):
    applicationIds = IdListField(min_length=1)  # noqa: N815
