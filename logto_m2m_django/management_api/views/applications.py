"""``/api/applications`` and its roles, secrets and legacy secret (M2M applications only)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from ...grant_cache import announce_change
from ...models import ApplicationSecret, M2MApplication, Role, RoleType
from ...models._fields import validate_custom_data
from ...provisioning import add_secret, revoke_default_secret
from .. import serializers as s
from ..access import check_application_securable, check_roles_assignable, require_all, route_scopes
from ..builtin import (
    MANAGEMENT_SCOPE,
    READ_APPLICATIONS,
    WRITE_APPLICATION_SECRETS,
    WRITE_APPLICATIONS,
    WRITE_ROLE_ASSIGNMENTS,
    ensure_management_role,
    management_indicator,
)
from ..errors import ApiError, invalid_input, not_exists, not_found, unprocessable
from ..pagination import paginate
from ..search import searched
from ..services import create_m2m_application
from ._base import ManagementView, empty, get_application, ids_in_order, json_list, writing

APPLICATION_SEARCH_FIELDS = {"id": "application__client_id", "name": "application__name", "description": "description"}
ROLE_SEARCH_FIELDS = {"id": "id", "name": "name", "description": "description"}
#: DOT's Application.name holds 255 characters; Logto allows 256.
_DOT_NAME_LENGTH = 255


def _too_long_name(name: str | None) -> None:
    if name is not None and len(name) > _DOT_NAME_LENGTH:
        raise unprocessable("entity.value_too_long", f"Application names hold at most {_DOT_NAME_LENGTH} characters.")


def _metadata_update(m2m: M2MApplication, data: dict[str, Any], keys: tuple[str, ...]) -> bool:
    changed = False
    meta = dict(m2m.logto_metadata or {})
    for key in keys:
        if key in data:
            meta[key] = data[key]
            changed = True
    m2m.logto_metadata = meta
    return changed


def _admin_roles(m2m: M2MApplication) -> Any:
    return m2m.roles.filter(scopes__resource__indicator=management_indicator(), scopes__name=MANAGEMENT_SCOPE)


def _query_flag(request: Request, name: str) -> bool | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise invalid_input(f"{name}: must be `true` or `false`.")
    return value == "true"


class ApplicationListView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_APPLICATIONS, write=WRITE_APPLICATIONS)

    def get(self, request: Request) -> Response:
        queryset = M2MApplication.objects.select_related("application").order_by("-created_at", "-pk")
        types = request.query_params.getlist("types")
        unknown = [t for t in types if t not in s.APPLICATION_TYPES]
        if unknown:
            raise invalid_input(f"types: unknown application type {unknown[0]!r}.")
        if types and "MachineToMachine" not in types:
            queryset = queryset.none()
        exclude_role = request.query_params.get("excludeRoleId")
        if exclude_role is not None and request.query_params.get("excludeOrganizationId") is not None:
            raise invalid_input("Send excludeRoleId or excludeOrganizationId, not both.")
        if exclude_role is not None:
            queryset = queryset.exclude(roles__id=exclude_role)
        third_party = _query_flag(request, "isThirdParty")
        if third_party is True:
            queryset = queryset.filter(logto_metadata__isThirdParty=True)
        elif third_party is False:
            queryset = queryset.filter(
                Q(logto_metadata__isThirdParty__isnull=True) | Q(logto_metadata__isThirdParty=False)
            )
        queryset = searched(request, queryset, APPLICATION_SEARCH_FIELDS)
        return json_list(paginate(request, queryset, optional=True), s.application_json)

    def post(self, request: Request) -> Response:
        data = self.validated(request, s.ApplicationCreateSerializer)
        if data["type"] == "SAML":
            raise invalid_input("type: SAML applications are created through the SAML endpoints, not here.")
        if data["type"] != "MachineToMachine":
            raise unprocessable(
                "application.type_not_supported",
                f"This server manages MachineToMachine applications only; {data['type']} applications are not "
                "supported.",
            )
        _too_long_name(data["name"])
        metadata: dict[str, Any] = {
            k: data[k] for k in ("oidcClientMetadata", "customClientMetadata", "isThirdParty") if k in data
        }
        with writing():
            m2m, secret = create_m2m_application(
                data["name"],
                description=data.get("description") or "",
                custom_data=data.get("customData", {}),
                logto_metadata=metadata,
            )
        # Logto answers 200 here, not 201. The secret is shown once: only its hash is stored.
        return Response(s.application_json(m2m, secret=secret), status=HTTPStatus.OK)


class ApplicationDetailView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_APPLICATIONS, write=WRITE_APPLICATIONS)

    def get(self, request: Request, application_id: str) -> Response:
        m2m = get_application(application_id)
        return Response(s.application_json(m2m, is_admin=_admin_roles(m2m).exists()))

    def patch(self, request: Request, application_id: str) -> Response:
        data = self.validated(request, s.ApplicationUpdateSerializer)
        if "isAdmin" in data:
            require_all(request)  # isAdmin grants (or takes) the scope `all`
        _too_long_name(data.get("name"))
        with writing():
            m2m = get_application(application_id, lock=True)
            if "name" in data:
                m2m.application.name = data["name"]
                m2m.application.save(update_fields=["name", "updated"])
            if "description" in data:
                m2m.description = data["description"] or ""
            if "customData" in data:
                m2m.custom_data = data["customData"]
            _metadata_update(m2m, data, ("oidcClientMetadata", "customClientMetadata", "appLevelAccessControlEnabled"))
            m2m.save(update_fields=["description", "custom_data", "logto_metadata"])
            if data.get("isAdmin") is True:
                m2m.roles.add(ensure_management_role())
            elif data.get("isAdmin") is False:
                m2m.roles.remove(*_admin_roles(m2m))
        return Response(s.application_json(m2m))

    def delete(self, request: Request, application_id: str) -> HttpResponse:
        with writing():
            m2m = get_application(application_id, lock=True)
            m2m.application.delete()  # the M2M record, its secrets and role links go with it
        return empty(HTTPStatus.NO_CONTENT)


class ApplicationCustomDataView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_APPLICATIONS, write=WRITE_APPLICATIONS)

    def patch(self, request: Request, application_id: str) -> Response:
        """Merge the body's top-level keys into ``customData`` (Logto's jsonb merge); answer the result."""
        patch = s.custom_data_patch(request.data)
        with writing():
            m2m = get_application(application_id, lock=True)
            merged = {**(m2m.custom_data or {}), **patch}
            try:
                validate_custom_data(merged)  # the size limit holds for the merged object
            except ValidationError as exc:
                raise invalid_input(f"customData: {' '.join(exc.messages)}") from exc
            m2m.custom_data = merged
            m2m.save(update_fields=["custom_data"])
        return Response(merged)


def _m2m_roles(role_ids: list[str]) -> list[Role]:
    """The roles named by ``role_ids``: 404 for an unknown one, 422 for a User role."""
    found = {role.id: role for role in Role.objects.filter(id__in=role_ids)}
    for role_id in role_ids:
        role = found.get(role_id)
        if role is None:
            raise not_exists("role", role_id)
        if role.type != RoleType.MACHINE_TO_MACHINE:
            raise unprocessable(
                "application.invalid_role_type",
                f"The role `{role.name}` is a User role; applications hold MachineToMachine roles only.",
            )
    return [found[role_id] for role_id in role_ids]


class ApplicationRolesView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_APPLICATIONS, write=WRITE_ROLE_ASSIGNMENTS)

    def get(self, request: Request, application_id: str) -> Response:
        m2m = get_application(application_id)
        queryset = m2m.roles.filter(type=RoleType.MACHINE_TO_MACHINE).order_by("name", "id")
        queryset = searched(request, queryset, ROLE_SEARCH_FIELDS)
        return json_list(paginate(request, queryset, optional=False), s.role_json)

    def post(self, request: Request, application_id: str) -> Response:
        role_ids = ids_in_order(self.validated(request, s.RoleIdsSerializer)["roleIds"])
        with writing():
            m2m = get_application(application_id, lock=True)
            roles = _m2m_roles(role_ids)
            held = set(m2m.roles.filter(id__in=role_ids).values_list("id", flat=True))
            added = [role for role in roles if role.id not in held]
            check_roles_assignable(request, [role.id for role in added])
            m2m.roles.add(*added)
        return Response({"roleIds": role_ids, "addedRoleIds": [role.id for role in added]}, status=HTTPStatus.CREATED)

    def put(self, request: Request, application_id: str) -> HttpResponse:
        role_ids = ids_in_order(self.validated(request, s.RoleIdsSerializer)["roleIds"])
        with writing():
            m2m = get_application(application_id, lock=True)
            roles = _m2m_roles(role_ids)
            held = set(m2m.roles.values_list("id", flat=True))
            check_roles_assignable(request, [role.id for role in roles if role.id not in held])
            m2m.roles.set(roles)
        return empty(HTTPStatus.OK)


class ApplicationRoleDetailView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_APPLICATIONS, write=WRITE_ROLE_ASSIGNMENTS)

    def delete(self, request: Request, application_id: str, role_id: str) -> HttpResponse:
        with writing():
            m2m = get_application(application_id, lock=True)
            link = M2MApplication.roles.through.objects.filter(m2mapplication=m2m, role_id=role_id)
            if not link.exists():
                raise not_found(f"The application does not hold the role `{role_id}`.")
            link.delete()
            # Django sends no signal for a link row deleted through its model: tell every process.
            announce_change()
        return empty(HTTPStatus.NO_CONTENT)


def _name_taken(m2m: M2MApplication, name: str) -> ApiError:
    return unprocessable("application.secret_name_exists", f"The application already has a secret named `{name}`.")


def _get_secret(m2m: M2MApplication, name: str) -> ApplicationSecret:
    row = m2m.secrets.filter(name=name).first() if "\x00" not in name else None
    if row is None:
        raise not_found(f"The application has no secret named `{name}`.")
    return row


class ApplicationSecretsView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_APPLICATIONS, write=WRITE_APPLICATION_SECRETS)

    def get(self, request: Request, application_id: str) -> Response:
        m2m = get_application(application_id)
        # Values are never listed: only their hashes are stored (they are shown once, when created).
        return Response([s.secret_json(row, m2m.client_id) for row in m2m.secrets.order_by("created_at", "id")])

    def post(self, request: Request, application_id: str) -> Response:
        data = self.validated(request, s.SecretCreateSerializer)
        expires_at = None
        if data.get("expiresAt") is not None:
            expires_at = s.from_epoch_ms(data["expiresAt"])
            if expires_at <= timezone.now():
                raise invalid_input("expiresAt: must be in the future (epoch milliseconds).")
        name = data["name"]
        m2m = get_application(application_id)
        check_application_securable(request, m2m)
        with writing(lambda: _name_taken(m2m, name)):
            if m2m.secrets.filter(name=name).exists():
                raise _name_taken(m2m, name)
            row, value = add_secret(m2m, name, expires_at)
        return Response(s.secret_json(row, m2m.client_id, value=value), status=HTTPStatus.CREATED)


class ApplicationSecretDetailView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_APPLICATIONS, write=WRITE_APPLICATION_SECRETS)

    def patch(self, request: Request, application_id: str, name: str) -> Response:
        new_name = self.validated(request, s.SecretRenameSerializer)["name"]
        m2m = get_application(application_id)
        with writing(lambda: _name_taken(m2m, new_name)):
            row = _get_secret(m2m, name)
            if new_name != row.name:
                if m2m.secrets.filter(name=new_name).exists():
                    raise _name_taken(m2m, new_name)
                row.name = new_name
                row.save(update_fields=["name"])
        return Response(s.secret_json(row, m2m.client_id))

    def delete(self, request: Request, application_id: str, name: str) -> HttpResponse:
        m2m = get_application(application_id)
        with writing():
            _get_secret(m2m, name).delete()
        return empty(HTTPStatus.NO_CONTENT)


class LegacySecretView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_APPLICATIONS, write=WRITE_APPLICATION_SECRETS)

    def delete(self, request: Request, application_id: str) -> Response:
        with writing():
            m2m = get_application(application_id, lock=True)
            # Logto replaces the legacy secret with an internal value: the deleted one stops working.
            if not revoke_default_secret(m2m):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "application.no_legacy_secret_found",
                    "The application has no legacy secret.",
                )
        return Response(s.application_json(m2m))
