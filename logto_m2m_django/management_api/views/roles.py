"""``/api/roles`` and their scopes and applications (MachineToMachine roles are what this project serves)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.db.models import Count, Prefetch
from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from ...grant_cache import announce_change
from ...models import M2MApplication, Role, RoleType, Scope
from .. import serializers as s
from ..access import check_role_assignable, check_scopes_grantable, route_scopes
from ..builtin import READ_ROLES, WRITE_ROLE_ASSIGNMENTS, WRITE_ROLES
from ..errors import ApiError, invalid_input, not_exists, not_found, unprocessable
from ..pagination import paginate
from ..search import searched
from ._base import ManagementView, empty, get_role, ids_in_order, json_list, writing
from .applications import APPLICATION_SEARCH_FIELDS

ROLE_SEARCH_FIELDS = {"id": "id", "name": "name", "description": "description"}
SCOPE_SEARCH_FIELDS = {"id": "id", "name": "name", "description": "description"}
INTERNAL_PREFIX = "#internal:"
FEATURED = 3
USER_ROLES_MESSAGE = (
    "This server serves MachineToMachine roles only: User roles belong to Logto's user management, which it "
    "does not implement. Create the role with type MachineToMachine (the default here)."
)


def _internal_violation() -> ApiError:
    # Logto reserves the prefix for its own roles, which GET /api/roles hides: refusing it here means no one can
    # hide a role (holding `all`, say) from the list through this API.
    return ApiError(
        HTTPStatus.FORBIDDEN,
        "role.internal_role_violation",
        f"Roles whose names start with `{INTERNAL_PREFIX}` are internal: they can't be created, renamed into, "
        "changed or deleted through this API. Choose a name without that prefix.",
    )


def _not_internal(name: str) -> None:
    if name.startswith(INTERNAL_PREFIX):
        raise _internal_violation()


def _writable_role(role_id: str) -> Role:
    role = get_role(role_id)
    _not_internal(role.name)
    return role


def _name_in_use(name: str) -> ApiError:
    return unprocessable("role.name_in_use", f"The role name `{name}` is already in use.", name=name)


def _listed_role(role: Role) -> dict[str, Any]:
    data = s.role_json(role)
    apps: list[M2MApplication] = getattr(role, "featured", [])
    data.update(
        usersCount=0,
        featuredUsers=[],
        applicationsCount=getattr(role, "applications_count", 0),
        featuredApplications=[
            {"id": app.client_id, "name": app.name, "type": "MachineToMachine"} for app in apps[:FEATURED]
        ],
    )
    return data


def _scopes(scope_ids: list[str]) -> list[Scope]:
    found = {scope.id: scope for scope in Scope.objects.filter(id__in=scope_ids)}
    for scope_id in scope_ids:
        if scope_id not in found:
            raise not_exists("scope", scope_id)
    return [found[scope_id] for scope_id in scope_ids]


class RoleListView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_ROLES, write=WRITE_ROLES)

    def get(self, request: Request) -> Response:
        queryset = Role.objects.exclude(name__startswith=INTERNAL_PREFIX).order_by("name", "id")
        role_type = request.query_params.get("type")
        if role_type is not None:
            if role_type not in s.ROLE_TYPES:
                raise invalid_input("type: must be `User` or `MachineToMachine`.")
            queryset = queryset.filter(type=role_type)
        exclude_app = request.query_params.get("excludeApplicationId")
        if exclude_app is not None:
            queryset = queryset.exclude(applications__application__client_id=exclude_app)
        queryset = searched(request, queryset, ROLE_SEARCH_FIELDS)
        queryset = queryset.annotate(applications_count=Count("applications", distinct=True)).prefetch_related(
            Prefetch(
                "applications",
                queryset=M2MApplication.objects.select_related("application").order_by("-created_at", "-pk"),
                to_attr="featured",
            )
        )
        return json_list(paginate(request, queryset, optional=False), _listed_role)

    def post(self, request: Request) -> Response:
        data = self.validated(request, s.RoleCreateSerializer)
        if data.get("type", RoleType.MACHINE_TO_MACHINE) != RoleType.MACHINE_TO_MACHINE:
            raise unprocessable("role.type_not_supported", USER_ROLES_MESSAGE)
        name = data["name"]
        _not_internal(name)
        scope_ids = ids_in_order(data.get("scopeIds", []))
        with writing(lambda: _name_in_use(name)):
            if Role.objects.filter(name=name).exists():
                raise _name_in_use(name)
            scopes = _scopes(scope_ids)
            check_scopes_grantable(request, scope_ids)
            role = Role.objects.create(
                name=name,
                description=data["description"],
                type=RoleType.MACHINE_TO_MACHINE,
                is_default=data.get("isDefault", False),
            )
            role.scopes.add(*scopes)
        # Logto answers 200 here, not 201.
        return Response(s.role_json(role), status=HTTPStatus.OK)


class RoleDetailView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_ROLES, write=WRITE_ROLES)

    def get(self, request: Request, role_id: str) -> Response:
        return Response(s.role_json(get_role(role_id)))

    def patch(self, request: Request, role_id: str) -> Response:
        data = self.validated(request, s.RoleUpdateSerializer)
        name = data.get("name", "")
        _not_internal(name)
        with writing(lambda: _name_in_use(name)):
            role = _writable_role(role_id)
            if "name" in data:
                if Role.objects.filter(name=name).exclude(pk=role.pk).exists():
                    raise _name_in_use(name)
                role.name = name
            if "description" in data:
                role.description = data["description"]
            if "isDefault" in data:
                role.is_default = data["isDefault"]
            role.save(update_fields=["name", "description", "is_default"])
        return Response(s.role_json(role))

    def delete(self, request: Request, role_id: str) -> HttpResponse:
        with writing():
            _writable_role(role_id).delete()  # its scope and application links go with it
        return empty(HTTPStatus.NO_CONTENT)


class RoleScopesView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_ROLES, write=WRITE_ROLES)

    def get(self, request: Request, role_id: str) -> Response:
        role = get_role(role_id)
        queryset = role.scopes.select_related("resource").order_by("created_at", "id")
        queryset = searched(request, queryset, SCOPE_SEARCH_FIELDS)
        return json_list(paginate(request, queryset, optional=True), lambda sc: s.scope_json(sc, with_resource=True))

    def post(self, request: Request, role_id: str) -> Response:
        scope_ids = ids_in_order(self.validated(request, s.ScopeIdsSerializer)["scopeIds"])
        with writing():
            role = _writable_role(role_id)
            scopes = _scopes(scope_ids)
            check_scopes_grantable(request, scope_ids)
            linked = set(role.scopes.filter(id__in=scope_ids).values_list("id", flat=True))
            if linked:
                raise unprocessable("role.scope_exists", f"The role already holds the scope `{sorted(linked)[0]}`.")
            role.scopes.add(*scopes)
            result = [s.scope_json(sc) for sc in role.scopes.order_by("created_at", "id")]
        return Response(result, status=HTTPStatus.CREATED)


class RoleScopeDetailView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_ROLES, write=WRITE_ROLES)

    def delete(self, request: Request, role_id: str, scope_id: str) -> HttpResponse:
        with writing():
            role = _writable_role(role_id)
            link = Role.scopes.through.objects.filter(role=role, scope_id=scope_id)
            if not link.exists():
                raise not_found(f"The role does not hold the scope `{scope_id}`.")
            link.delete()
            # Django sends no signal for a link row deleted through its model: tell every process.
            announce_change()
        return empty(HTTPStatus.NO_CONTENT)


class RoleApplicationsView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_ROLES, write=WRITE_ROLE_ASSIGNMENTS)

    def get(self, request: Request, role_id: str) -> Response:
        role = get_role(role_id)
        queryset = role.applications.select_related("application").order_by("-created_at", "-pk")
        queryset = searched(request, queryset, APPLICATION_SEARCH_FIELDS)
        return json_list(paginate(request, queryset, optional=False), s.application_json)

    def post(self, request: Request, role_id: str) -> HttpResponse:
        app_ids = ids_in_order(self.validated(request, s.ApplicationIdsSerializer)["applicationIds"])
        with writing():
            role = _writable_role(role_id)
            found = {
                app.client_id: app
                for app in M2MApplication.objects.select_related("application").filter(
                    application__client_id__in=app_ids
                )
            }
            for app_id in app_ids:
                if app_id not in found:
                    raise not_exists("application", app_id)
            if role.type != RoleType.MACHINE_TO_MACHINE:
                raise unprocessable("entity.db_constraint_violated", "Only MachineToMachine roles go on applications.")
            check_role_assignable(request, role)
            linked = role.applications.filter(application__client_id__in=app_ids).first()
            if linked is not None:
                raise unprocessable(
                    "role.application_exists", f"The application `{linked.client_id}` already holds the role."
                )
            role.applications.add(*found.values())
        return empty(HTTPStatus.CREATED)


class RoleApplicationDetailView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_ROLES, write=WRITE_ROLE_ASSIGNMENTS)

    def delete(self, request: Request, role_id: str, application_id: str) -> HttpResponse:
        with writing():
            role = _writable_role(role_id)
            link = M2MApplication.roles.through.objects.filter(
                role=role, m2mapplication__application__client_id=application_id
            )
            if not link.exists():
                raise not_found(f"The application `{application_id}` does not hold the role.")
            link.delete()
            # Django sends no signal for a link row deleted through its model: tell every process.
            announce_change()
        return empty(HTTPStatus.NO_CONTENT)
