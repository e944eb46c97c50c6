"""``/api/organizations``: organizations, their member applications and the members' organization roles.

Paths, bodies and status codes are Logto's (``routes/organization``): relations are written with
201 (POST) or 204 (PUT, DELETE); an ID that names nothing in a relation body is 422
``entity.relation_foreign_key_not_found``; roles need membership (422 ``organization.require_membership``).
"""

from __future__ import annotations

from collections import defaultdict
from http import HTTPStatus
from typing import Any

from django.db.models import Prefetch
from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from ...models import M2MApplication, Organization, OrganizationMembership, OrganizationRole, RoleType
from .. import organization_serializers as o
from .. import serializers as s
from ..access import route_scopes
from ..builtin import READ_ORGANIZATIONS, WRITE_ORGANIZATIONS
from ..errors import ApiError, not_exists, not_found, unprocessable
from ..pagination import paginate
from ._base import ManagementView, empty, get_application, ids_in_order, json_list, writing

ORGANIZATION_SEARCH_FIELDS = ("id", "name")
APPLICATION_SEARCH_FIELDS = ("application__client_id", "application__name", "description")


class OrganizationView(ManagementView):
    """Base of the organization routes: reading needs ``read:organizations``, writing ``write:organizations``."""

    required_scopes_by_method = route_scopes(read=READ_ORGANIZATIONS, write=WRITE_ORGANIZATIONS)


def get_organization(organization_id: str) -> Organization:
    organization = Organization.objects.filter(pk=organization_id).first() if len(organization_id) <= 21 else None
    if organization is None:
        raise not_exists("organization", organization_id)
    return organization


def _foreign_key_not_found(entity: str, entity_id: str) -> ApiError:
    return unprocessable(
        "entity.relation_foreign_key_not_found",
        f"The {entity} with ID `{entity_id}` does not exist.",
        name=entity,
        id=entity_id,
    )


def _organization_for_relation(organization_id: str) -> Organization:
    organization = Organization.objects.filter(pk=organization_id).first() if len(organization_id) <= 21 else None
    if organization is None:
        raise _foreign_key_not_found("organization", organization_id)
    return organization


def _applications(app_ids: list[str]) -> list[M2MApplication]:
    found = {
        app.client_id: app
        for app in M2MApplication.objects.select_related("application").filter(application__client_id__in=app_ids)
    }
    for app_id in app_ids:
        if app_id not in found:
            raise _foreign_key_not_found("application", app_id)
    return [found[app_id] for app_id in app_ids]


def _roles(role_ids: list[str]) -> list[OrganizationRole]:
    found = {role.id: role for role in OrganizationRole.objects.filter(id__in=role_ids)}
    for role_id in role_ids:
        if role_id not in found:
            raise _foreign_key_not_found("organization role", role_id)
        if found[role_id].type != RoleType.MACHINE_TO_MACHINE:
            raise unprocessable(
                "organization.role_type_not_match",
                f"The organization role `{role_id}` is not a MachineToMachine role: only those go on applications.",
            )
    return [found[role_id] for role_id in role_ids]


def _membership(organization_id: str, application_id: str, *, lock: bool = False) -> OrganizationMembership:
    queryset = OrganizationMembership.objects.filter(
        organization_id=organization_id, application__application__client_id=application_id
    )
    membership = (queryset.select_for_update() if lock else queryset).first()
    if membership is None:
        raise unprocessable("organization.require_membership", "The application is not a member of the organization.")
    return membership


class OrganizationListView(OrganizationView):
    def get(self, request: Request) -> Response:
        queryset = o.keyword_search(
            request, Organization.objects.order_by("-created_at", "id"), ORGANIZATION_SEARCH_FIELDS
        )
        return json_list(paginate(request, queryset, optional=True), o.organization_json)

    def post(self, request: Request) -> Response:
        data = self.validated(request, o.OrganizationCreateSerializer)
        with writing():
            organization = Organization.objects.create(
                name=data["name"], description=data.get("description"), custom_data=data.get("customData", {})
            )
        return Response(o.organization_json(organization), status=HTTPStatus.CREATED)


class OrganizationDetailView(OrganizationView):
    def get(self, request: Request, organization_id: str) -> Response:
        return Response(o.organization_json(get_organization(organization_id)))

    def patch(self, request: Request, organization_id: str) -> Response:
        data = self.validated(request, o.OrganizationUpdateSerializer)
        with writing():
            organization = get_organization(organization_id)
            if "name" in data:
                organization.name = data["name"]
            if "description" in data:
                organization.description = data["description"]
            if "customData" in data:
                organization.custom_data = data["customData"]  # replaced, as Logto's PATCH does
            organization.save(update_fields=["name", "description", "custom_data"])
        return Response(o.organization_json(organization))

    def delete(self, request: Request, organization_id: str) -> HttpResponse:
        with writing():
            get_organization(organization_id).delete()  # memberships and their roles go with it
        return empty(HTTPStatus.NO_CONTENT)


class OrganizationApplicationsView(OrganizationView):
    def get(self, request: Request, organization_id: str) -> Response:
        organization = get_organization(organization_id)
        queryset = (
            OrganizationMembership.objects.filter(organization=organization)
            .select_related("application__application")
            .prefetch_related("roles")
            .order_by("created_at", "pk")
        )
        queryset = o.keyword_search(request, queryset, [f"application__{f}" for f in APPLICATION_SEARCH_FIELDS])
        page = paginate(request, queryset, optional=False)
        body = [
            {
                **s.application_json(m.application),
                "organizationRoles": o.role_refs(sorted(m.roles.all(), key=lambda r: r.name)),
            }
            for m in page.items
        ]
        return Response(body, headers=page.headers)

    def post(self, request: Request, organization_id: str) -> HttpResponse:
        app_ids = ids_in_order(self.validated(request, o.ApplicationIdsSerializer)["applicationIds"])
        with writing():
            organization = _organization_for_relation(organization_id)
            apps = _applications(app_ids)
            present = set(organization.memberships.values_list("application_id", flat=True))
            OrganizationMembership.objects.bulk_create(
                [
                    OrganizationMembership(organization=organization, application=app)
                    for app in apps
                    if app.pk not in present
                ],
                # A concurrent add of the same app: already a member (Logto: ON CONFLICT DO NOTHING).
                ignore_conflicts=True,
            )
        return empty(HTTPStatus.CREATED)

    def put(self, request: Request, organization_id: str) -> HttpResponse:
        app_ids = ids_in_order(self.validated(request, o.ApplicationIdsReplaceSerializer)["applicationIds"])
        with writing():
            organization = _organization_for_relation(organization_id)
            Organization.objects.select_for_update().filter(pk=organization.pk).first()
            apps = _applications(app_ids)
            keep = {app.pk for app in apps}
            organization.memberships.exclude(application_id__in=keep).delete()
            present = set(organization.memberships.values_list("application_id", flat=True))
            OrganizationMembership.objects.bulk_create(
                [OrganizationMembership(organization=organization, application=a) for a in apps if a.pk not in present],
                ignore_conflicts=True,
            )
        return empty(HTTPStatus.NO_CONTENT)


class OrganizationApplicationDetailView(OrganizationView):
    def delete(self, request: Request, organization_id: str, application_id: str) -> HttpResponse:
        with writing():
            deleted, _ = OrganizationMembership.objects.filter(
                organization_id=organization_id, application__application__client_id=application_id
            ).delete()
            if not deleted:
                raise not_found(f"The application `{application_id}` is not a member of the organization.")
        return empty(HTTPStatus.NO_CONTENT)


class OrganizationApplicationsRolesView(OrganizationView):
    """``POST /api/organizations/{id}/applications/roles``: every role to every application (all members)."""

    def post(self, request: Request, organization_id: str) -> HttpResponse:
        data = self.validated(request, o.ApplicationRolesSerializer)
        app_ids, role_ids = ids_in_order(data["applicationIds"]), ids_in_order(data["organizationRoleIds"])
        with writing():
            organization = _organization_for_relation(organization_id)
            apps = _applications(app_ids)
            roles = _roles(role_ids)
            memberships = {m.application_id: m for m in organization.memberships.filter(application__in=apps)}
            for app in apps:
                if app.pk not in memberships:
                    raise unprocessable(
                        "organization.require_membership",
                        f"The application `{app.client_id}` is not a member of the organization.",
                    )
            for membership in memberships.values():
                membership.roles.add(*roles)  # already held: nothing happens (as Logto)
        return empty(HTTPStatus.CREATED)


class OrganizationApplicationRolesView(OrganizationView):
    def get(self, request: Request, organization_id: str, application_id: str) -> Response:
        membership = _membership(organization_id, application_id)
        queryset = membership.roles.order_by("name", "id")
        return json_list(paginate(request, queryset, optional=True), o.organization_role_json)

    def post(self, request: Request, organization_id: str, application_id: str) -> HttpResponse:
        role_ids = ids_in_order(self.validated(request, o.OrganizationRoleIdsSerializer)["organizationRoleIds"])
        with writing():
            membership = _membership(organization_id, application_id, lock=True)
            membership.roles.add(*_roles(role_ids))
        return empty(HTTPStatus.CREATED)

    def put(self, request: Request, organization_id: str, application_id: str) -> HttpResponse:
        role_ids = ids_in_order(self.validated(request, o.OrganizationRoleIdsSerializer)["organizationRoleIds"])
        with writing():
            membership = _membership(organization_id, application_id, lock=True)
            membership.roles.set(_roles(role_ids))
        return empty(HTTPStatus.NO_CONTENT)


class OrganizationApplicationRoleDetailView(OrganizationView):
    def delete(self, request: Request, organization_id: str, application_id: str, role_id: str) -> HttpResponse:
        with writing():
            membership = _membership(organization_id, application_id, lock=True)
            link = OrganizationMembership.roles.through.objects.filter(
                organizationmembership=membership, organizationrole_id=role_id
            )
            if not link.exists():
                raise not_found(f"The application does not hold the organization role `{role_id}`.")
            link.delete()
        return empty(HTTPStatus.NO_CONTENT)


class ApplicationOrganizationsView(OrganizationView):
    """``GET /api/applications/{id}/organizations``: each organization with the app's roles in it."""

    def get(self, request: Request, application_id: str) -> Response:
        app = get_application(application_id)
        queryset = o.keyword_search(
            request,
            Organization.objects.filter(memberships__application=app).order_by("-created_at", "id"),
            ("id", "name"),
        )
        page = paginate(request, queryset, optional=True)
        roles: dict[str, list[Any]] = defaultdict(list)
        memberships = OrganizationMembership.objects.filter(
            application=app, organization__in=[org.pk for org in page.items]
        ).prefetch_related(Prefetch("roles", queryset=OrganizationRole.objects.order_by("name")))
        for membership in memberships:
            roles[membership.organization_id].extend(membership.roles.all())
        body = [{**o.organization_json(org), "organizationRoles": o.role_refs(roles[org.pk])} for org in page.items]
        return Response(body, headers=page.headers)
