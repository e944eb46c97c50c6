"""``/api/organization-roles`` (with their organization scopes and resource scopes) and
``/api/organization-scopes``, after Logto's ``routes/organization-role`` and ``routes/organization-scope``."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.db import models
from django.db.models import Prefetch
from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from ...models import OrganizationRole, OrganizationScope, RoleType, Scope
from .. import organization_serializers as o
from ..access import check_organization_role_scopes
from ..errors import ApiError, invalid_input, not_exists, not_found, unprocessable
from ..pagination import paginate
from ._base import empty, ids_in_order, json_list, writing
from .organizations import OrganizationView, _foreign_key_not_found

SEARCH_FIELDS = ("id", "name")


def _name_in_use() -> ApiError:
    return unprocessable("entity.unique_integrity_violation", "The name is already in use.")


def _get(model: type[models.Model], entity: str, entity_id: str) -> Any:
    found = model._default_manager.filter(pk=entity_id).first() if len(entity_id) <= 21 else None
    if found is None:
        raise not_exists(entity, entity_id)
    return found


def _related(model: type[models.Model], entity: str, ids: list[str]) -> list[Any]:
    found = {row.pk: row for row in model._default_manager.filter(pk__in=ids)}
    for entity_id in ids:
        if entity_id not in found:
            raise _foreign_key_not_found(entity, entity_id)
    return [found[entity_id] for entity_id in ids]


def _with_scopes(queryset: Any) -> Any:
    return queryset.prefetch_related(
        Prefetch("scopes", queryset=OrganizationScope.objects.order_by("name")),
        Prefetch("resource_scopes", queryset=Scope.objects.select_related("resource").order_by("name", "id")),
    )


class OrganizationRoleListView(OrganizationView):
    def get(self, request: Request) -> Response:
        queryset = o.keyword_search(request, OrganizationRole.objects.order_by("name", "id"), SEARCH_FIELDS)
        return json_list(
            paginate(request, _with_scopes(queryset), optional=False), o.organization_role_with_scopes_json
        )

    def post(self, request: Request) -> Response:
        data = self.validated(request, o.OrganizationRoleCreateSerializer)
        with writing(_name_in_use):
            scopes = _related(
                OrganizationScope, "organization scope", ids_in_order(data.get("organizationScopeIds", []))
            )
            resource_scope_ids = ids_in_order(data.get("resourceScopeIds", []))
            resource_scopes = _related(Scope, "scope", resource_scope_ids)
            check_organization_role_scopes(resource_scope_ids)
            role = OrganizationRole.objects.create(
                name=data["name"],
                description=data.get("description"),
                # This package serves machine-to-machine apps only; Logto's default is User.
                type=data.get("type", RoleType.MACHINE_TO_MACHINE),
            )
            role.scopes.add(*scopes)
            role.resource_scopes.add(*resource_scopes)
        return Response(o.organization_role_json(role), status=HTTPStatus.CREATED)


class OrganizationRoleDetailView(OrganizationView):
    def get(self, request: Request, role_id: str) -> Response:
        return Response(o.organization_role_json(_get(OrganizationRole, "organization role", role_id)))

    def patch(self, request: Request, role_id: str) -> Response:
        data = self.validated(request, o.OrganizationRoleUpdateSerializer)
        with writing(_name_in_use):
            role = _get(OrganizationRole, "organization role", role_id)
            for field, key in (("name", "name"), ("description", "description"), ("type", "type")):
                if key in data:
                    setattr(role, field, data[key])
            if role.type != RoleType.MACHINE_TO_MACHINE and role.memberships.exists():
                raise unprocessable(
                    "organization.role_type_not_match", "Applications hold this role: it must stay MachineToMachine."
                )
            role.save(update_fields=["name", "description", "type"])
        return Response(o.organization_role_json(role))

    def delete(self, request: Request, role_id: str) -> HttpResponse:
        with writing():
            _get(OrganizationRole, "organization role", role_id).delete()
        return empty(HTTPStatus.NO_CONTENT)


def _relation_view(
    attribute: str, model: type[models.Model], entity: str, key: str, render: Callable[[Any], dict[str, Any]]
) -> tuple[Any, Any]:
    """The GET/POST/PUT and DELETE views of one of a role's scope relations (Logto's ``addRelationRoutes``)."""
    serializer = o.OrganizationScopeIdsSerializer if key == "organizationScopeIds" else o.ScopeIdsSerializer

    def role_and_ids(
        view: OrganizationView, request: Request, role_id: str, *, required: bool
    ) -> tuple[Any, list[Any]]:
        ids = ids_in_order(view.validated(request, serializer)[key])
        if required and not ids:
            raise invalid_input(f"{key}: at least one ID is required.")
        role = _get(OrganizationRole, "organization role", role_id)
        rows = _related(model, entity, ids)
        if model is Scope:
            check_organization_role_scopes(ids)
        return role, rows

    class ListView(OrganizationView):
        def get(self, request: Request, role_id: str) -> Response:
            role = _get(OrganizationRole, "organization role", role_id)
            queryset = getattr(role, attribute).order_by("name", "pk")
            return json_list(paginate(request, queryset, optional=True), render)

        def post(self, request: Request, role_id: str) -> HttpResponse:
            with writing():
                role, rows = role_and_ids(self, request, role_id, required=True)
                getattr(role, attribute).add(*rows)
            return empty(HTTPStatus.CREATED)

        def put(self, request: Request, role_id: str) -> HttpResponse:
            with writing():
                role, rows = role_and_ids(self, request, role_id, required=False)
                getattr(role, attribute).set(rows)
            return empty(HTTPStatus.NO_CONTENT)

    class DetailView(OrganizationView):
        def delete(self, request: Request, role_id: str, scope_id: str) -> HttpResponse:
            with writing():
                role = _get(OrganizationRole, "organization role", role_id)
                related = getattr(role, attribute)
                if not related.filter(pk=scope_id).exists():
                    raise not_found(f"The organization role does not hold the scope `{scope_id}`.")
                related.remove(scope_id)
            return empty(HTTPStatus.NO_CONTENT)

    name = "".join(part.title() for part in attribute.split("_"))
    ListView.__name__ = ListView.__qualname__ = f"OrganizationRole{name}View"
    DetailView.__name__ = DetailView.__qualname__ = f"OrganizationRole{name}DetailView"
    return ListView, DetailView


OrganizationRoleScopesView, OrganizationRoleScopeDetailView = _relation_view(
    "scopes", OrganizationScope, "organization scope", "organizationScopeIds", o.organization_scope_json
)
OrganizationRoleResourceScopesView, OrganizationRoleResourceScopeDetailView = _relation_view(
    "resource_scopes", Scope, "scope", "scopeIds", o.resource_scope_json
)


class OrganizationScopeListView(OrganizationView):
    def get(self, request: Request) -> Response:
        queryset = o.keyword_search(request, OrganizationScope.objects.order_by("name", "id"), SEARCH_FIELDS)
        return json_list(paginate(request, queryset, optional=False), o.organization_scope_json)

    def post(self, request: Request) -> Response:
        data = self.validated(request, o.OrganizationScopeSerializer)
        with writing(_name_in_use):
            if OrganizationScope.objects.filter(name=data["name"]).exists():
                raise _name_in_use()
            scope = OrganizationScope.objects.create(name=data["name"], description=data.get("description"))
        return Response(o.organization_scope_json(scope), status=HTTPStatus.CREATED)


class OrganizationScopeDetailView(OrganizationView):
    def get(self, request: Request, scope_id: str) -> Response:
        return Response(o.organization_scope_json(_get(OrganizationScope, "organization scope", scope_id)))

    def patch(self, request: Request, scope_id: str) -> Response:
        data = self.validated(request, o.OrganizationScopeUpdateSerializer)
        with writing(_name_in_use):
            scope = _get(OrganizationScope, "organization scope", scope_id)
            if "name" in data:
                if OrganizationScope.objects.filter(name=data["name"]).exclude(pk=scope.pk).exists():
                    raise _name_in_use()
                scope.name = data["name"]
            if "description" in data:
                scope.description = data["description"]
            scope.save(update_fields=["name", "description"])
        return Response(o.organization_scope_json(scope))

    def delete(self, request: Request, scope_id: str) -> HttpResponse:
        with writing():
            _get(OrganizationScope, "organization scope", scope_id).delete()
        return empty(HTTPStatus.NO_CONTENT)
