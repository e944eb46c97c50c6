"""No escalation: a Management API caller without ``all`` can't reach a wider Management API scope,
whatever narrow scope it holds (issue 14 §1)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from rest_framework.test import APIClient

from logto_m2m_django.management_api.builtin import ensure_management_role
from logto_m2m_django.management_api.services import create_m2m_application
from logto_m2m_django.models import M2MApplication, Role, Scope
from tests.test_management_api_scopes import MGMT, caller, management_role

pytestmark = pytest.mark.django_db


def _mgmt_scope(name: str) -> Scope:
    ensure_management_role()
    return Scope.objects.get(resource__indicator=MGMT, name=name)


def _needs_all(response: Any) -> None:
    assert response.status_code == HTTPStatus.FORBIDDEN, response.content
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert 'scope="all"' in response["WWW-Authenticate"]
    assert response.json()["code"] == "auth.forbidden"


def _plain_app(name: str = "Plain") -> M2MApplication:
    return create_m2m_application(name)[0]


def _role_holding(*scope_names: str) -> Role:
    role = Role.objects.create(name=f"Holds {' '.join(scope_names)}", description="d")
    role.scopes.add(*(_mgmt_scope(name) for name in scope_names))
    return role


@pytest.mark.parametrize("scope_name", ["all", "write:application-secrets", "read:logs"])
def test_write_roles_cannot_put_a_management_scope_on_a_role(scope_name: str) -> None:
    role = Role.objects.create(name="Mine", description="d")
    api = caller("write:roles")
    _needs_all(api.post(f"/api/roles/{role.id}/scopes", {"scopeIds": [_mgmt_scope(scope_name).id]}, format="json"))
    assert role.scopes.count() == 0


def test_write_roles_cannot_create_a_role_with_a_management_scope() -> None:
    api = caller("write:roles")
    body = {"name": "Sneaky", "description": "d", "scopeIds": [_mgmt_scope("all").id]}
    _needs_all(api.post("/api/roles", body, format="json"))
    assert not Role.objects.filter(name="Sneaky").exists()


def test_write_roles_still_manages_other_scopes_on_a_role() -> None:
    from logto_m2m_django.models import Resource

    scope = Scope.objects.create(resource=Resource.objects.create(name="S", indicator="https://s.api"), name="a")
    role = Role.objects.create(name="Mine", description="d")
    api = caller("write:roles")
    assert api.post(f"/api/roles/{role.id}/scopes", {"scopeIds": [scope.id]}, format="json").status_code == 201


@pytest.mark.parametrize("held", [("all",), ("write:application-secrets",), ("read:roles", "read:logs")])
def test_role_assignments_cannot_give_a_role_holding_a_management_scope(held: tuple[str, ...]) -> None:
    role = _role_holding(*held)
    target = _plain_app()
    api = caller("write:role-assignments")
    _needs_all(api.post(f"/api/applications/{target.client_id}/roles", {"roleIds": [role.id]}, format="json"))
    _needs_all(api.put(f"/api/applications/{target.client_id}/roles", {"roleIds": [role.id]}, format="json"))
    _needs_all(api.post(f"/api/roles/{role.id}/applications", {"applicationIds": [target.client_id]}, format="json"))
    assert target.roles.count() == 0


def test_role_assignments_cannot_give_itself_the_management_role() -> None:
    m2m, secret = create_m2m_application("Self", roles=[management_role("write:role-assignments")])
    from tests.test_management_api_scopes import token_response

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer " + token_response(m2m.client_id, secret).json()["access_token"])
    role = ensure_management_role()
    _needs_all(api.post(f"/api/applications/{m2m.client_id}/roles", {"roleIds": [role.id]}, format="json"))
    assert not m2m.roles.filter(pk=role.pk).exists()


def test_put_keeping_a_management_role_the_app_already_holds_is_allowed() -> None:
    admin_role = ensure_management_role()
    other = Role.objects.create(name="Other", description="d")
    target = create_m2m_application("Admin", roles=[admin_role])[0]
    api = caller("write:role-assignments")
    body = {"roleIds": [admin_role.id, other.id]}
    assert api.put(f"/api/applications/{target.client_id}/roles", body, format="json").status_code == HTTPStatus.OK
    assert set(target.roles.values_list("id", flat=True)) == {admin_role.id, other.id}


@pytest.mark.parametrize("value", [True, False])
def test_write_applications_cannot_set_is_admin(value: bool) -> None:
    admin_role = ensure_management_role()
    target = create_m2m_application("Target", roles=[] if value else [admin_role])[0]
    api = caller("write:applications")
    _needs_all(api.patch(f"/api/applications/{target.client_id}", {"isAdmin": value}, format="json"))
    assert target.roles.filter(pk=admin_role.pk).exists() is (not value)


@pytest.mark.parametrize("held", [("all",), ("read:logs",)])
def test_secrets_scope_cannot_add_a_secret_to_an_app_holding_a_management_scope(held: tuple[str, ...]) -> None:
    target = create_m2m_application("Privileged", roles=[_role_holding(*held)])[0]
    api = caller("write:application-secrets")
    before = target.secrets.count()
    _needs_all(api.post(f"/api/applications/{target.client_id}/secrets", {"name": "mine"}, format="json"))
    assert target.secrets.count() == before


def test_secrets_scope_adds_a_secret_to_an_ordinary_app() -> None:
    target = _plain_app()
    api = caller("write:application-secrets")
    response = api.post(f"/api/applications/{target.client_id}/secrets", {"name": "mine"}, format="json")
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["value"]


def test_all_may_do_every_one_of_these() -> None:
    admin_role = ensure_management_role()
    target = _plain_app()
    api = caller("all")
    role = Role.objects.create(name="Mine", description="d")
    assert (
        api.post(f"/api/roles/{role.id}/scopes", {"scopeIds": [_mgmt_scope("read:logs").id]}, format="json").status_code
        == 201
    )
    assert (
        api.post(f"/api/applications/{target.client_id}/roles", {"roleIds": [role.id]}, format="json").status_code
        == 201
    )
    assert api.patch(f"/api/applications/{target.client_id}", {"isAdmin": True}, format="json").status_code == 200
    assert target.roles.filter(pk=admin_role.pk).exists()
    assert api.post(f"/api/applications/{target.client_id}/secrets", {"name": "x"}, format="json").status_code == 201
