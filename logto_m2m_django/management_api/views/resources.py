"""``/api/resources`` and their scopes and default flag."""

from __future__ import annotations

import re
from http import HTTPStatus

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from ...models import Resource, Scope
from ...models._fields import validate_scope_name
from .. import serializers as s
from ..access import route_scopes
from ..builtin import READ_RESOURCES, WRITE_RESOURCES, is_management_resource
from ..errors import ApiError, invalid_input, not_exists, unprocessable
from ..pagination import paginate
from ..search import searched
from ._base import ManagementView, empty, get_resource, json_list, writing

SCOPE_SEARCH_FIELDS = {"id": "id", "name": "name", "description": "description"}
_TRUTHY = ("true", "1", "yes")


def _read_only(resource: Resource) -> None:
    if is_management_resource(resource):
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "resource.cannot_modify_management_api",
            "The Management API resource and its scopes are built in and can't be changed or deleted.",
        )


def _indicator_in_use(indicator: str) -> ApiError:
    return unprocessable(
        "resource.resource_identifier_in_use",
        f"The API identifier `{indicator}` is already in use.",
        indicator=indicator,
    )


class ResourceListView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_RESOURCES, write=WRITE_RESOURCES)

    def get(self, request: Request) -> Response:
        queryset = Resource.objects.order_by("created_at", "id")
        include_scopes = (request.query_params.get("includeScopes") or "").lower() in _TRUTHY
        if include_scopes:
            queryset = queryset.prefetch_related(
                Prefetch("scopes", queryset=Scope.objects.order_by("created_at", "id"), to_attr="scope_list")
            )
        page = paginate(request, queryset, optional=True)
        if include_scopes:
            return json_list(page, lambda r: s.resource_json(r, scopes=r.scope_list))
        return json_list(page, s.resource_json)

    def post(self, request: Request) -> Response:
        data = self.validated(request, s.ResourceCreateSerializer)
        indicator = data["indicator"]
        with writing(lambda: _indicator_in_use(indicator)):
            if Resource.objects.filter(indicator=indicator).exists():
                raise _indicator_in_use(indicator)
            resource = Resource.objects.create(
                name=data["name"], indicator=indicator, access_token_ttl=data.get("accessTokenTtl", 3600)
            )
        return Response(s.resource_json(resource, scopes=[]), status=HTTPStatus.CREATED)


class ResourceDetailView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_RESOURCES, write=WRITE_RESOURCES)

    def get(self, request: Request, resource_id: str) -> Response:
        return Response(s.resource_json(get_resource(resource_id)))

    def patch(self, request: Request, resource_id: str) -> Response:
        data = self.validated(request, s.ResourceUpdateSerializer)
        with writing():
            resource = get_resource(resource_id)
            if set(data) != {"accessTokenTtl"}:
                # The built-in resource's lifetime can be shortened like any other; the rest is fixed.
                _read_only(resource)
            if "name" in data:
                resource.name = data["name"]
            if "accessTokenTtl" in data:
                resource.access_token_ttl = data["accessTokenTtl"]
            resource.save(update_fields=["name", "access_token_ttl"])
        return Response(s.resource_json(resource))

    def delete(self, request: Request, resource_id: str) -> HttpResponse:
        with writing():
            resource = get_resource(resource_id)
            _read_only(resource)
            resource.delete()  # its scopes, and their role links, go with it
        return empty(HTTPStatus.NO_CONTENT)


class ResourceDefaultView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_RESOURCES, write=WRITE_RESOURCES)

    def patch(self, request: Request, resource_id: str) -> Response:
        is_default = self.validated(request, s.IsDefaultSerializer)["isDefault"]
        with writing():
            resource = get_resource(resource_id)
            _read_only(resource)
            if is_default:
                Resource.objects.filter(is_default=True).exclude(pk=resource.pk).update(is_default=False)
            resource.is_default = is_default
            resource.save(update_fields=["is_default"])
        return Response(s.resource_json(resource))


def _check_scope_name(name: str) -> None:
    if re.search(r"\s", name):
        raise ApiError(HTTPStatus.BAD_REQUEST, "scope.name_with_space", "A scope name can't contain spaces.")
    try:
        validate_scope_name(name)
    except ValidationError as exc:
        raise invalid_input(f"name: {' '.join(exc.messages)}") from exc


def _scope_name_taken(name: str) -> ApiError:
    return unprocessable("scope.name_exists", f"The API already has a scope named `{name}`.", name=name)


def _get_scope(resource: Resource, scope_id: str) -> Scope:
    scope = resource.scopes.filter(pk=scope_id).first() if "\x00" not in scope_id and len(scope_id) < 256 else None
    if scope is None:
        raise not_exists("scope", scope_id)
    return scope


class ScopeListView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_RESOURCES, write=WRITE_RESOURCES)

    def get(self, request: Request, resource_id: str) -> Response:
        resource = get_resource(resource_id)
        queryset = resource.scopes.order_by("created_at", "id")
        queryset = searched(request, queryset, SCOPE_SEARCH_FIELDS)
        return json_list(paginate(request, queryset, optional=False), s.scope_json)

    def post(self, request: Request, resource_id: str) -> Response:
        data = self.validated(request, s.ScopeCreateSerializer)
        name = data["name"]
        _check_scope_name(name)
        resource = get_resource(resource_id)
        _read_only(resource)
        with writing(lambda: _scope_name_taken(name)):
            if resource.scopes.filter(name=name).exists():
                raise _scope_name_taken(name)
            scope = Scope.objects.create(resource=resource, name=name, description=data.get("description") or "")
        return Response(s.scope_json(scope), status=HTTPStatus.CREATED)


class ScopeDetailView(ManagementView):
    required_scopes_by_method = route_scopes(read=READ_RESOURCES, write=WRITE_RESOURCES)

    def patch(self, request: Request, resource_id: str, scope_id: str) -> Response:
        data = self.validated(request, s.ScopeUpdateSerializer)
        if "name" in data:
            _check_scope_name(data["name"])
        name = data.get("name", "")
        with writing(lambda: _scope_name_taken(name)):
            resource = get_resource(resource_id)
            _read_only(resource)
            scope = _get_scope(resource, scope_id)
            if "name" in data and resource.scopes.filter(name=name).exclude(pk=scope.pk).exists():
                raise _scope_name_taken(name)
            if "name" in data:
                scope.name = name
            if "description" in data:
                scope.description = data["description"] or ""
            scope.save(update_fields=["name", "description"])
        return Response(s.scope_json(scope))

    def delete(self, request: Request, resource_id: str, scope_id: str) -> HttpResponse:
        with writing():
            resource = get_resource(resource_id)
            _read_only(resource)
            _get_scope(resource, scope_id).delete()  # role links go with it
        return empty(HTTPStatus.NO_CONTENT)
