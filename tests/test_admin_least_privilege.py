"""Admin least privilege: access to the Management API, and the token inspector, need permissions of their own.

A staff user with "change M2M application" alone must not be able to reach scope ``all``: adding a secret to
an application that holds the Management API, granting an application a role holding a Management API scope,
or adding such a scope to a role that applications hold all need ``logto_m2m.manage_management_api_access``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from logto_m2m_django.management_api.builtin import ensure_management_resource, ensure_management_role
from logto_m2m_django.models import ApplicationSecret, M2MApplication, Role
from logto_m2m_django.provisioning import create_application
from tests.admin_support import ADMIN, staff_user

pytestmark = pytest.mark.django_db

EDITOR = ("view_m2mapplication", "change_m2mapplication", "add_m2mapplication", "view_role", "change_role")
MANAGE = "manage_management_api_access"
INSPECT = "use_token_inspector"


@pytest.fixture
def management_app() -> M2MApplication:
    app, _ = create_application("Management client", roles=[ensure_management_role()])
    return app


def _login(client: Any, *codenames: str) -> Any:
    client.force_login(staff_user(f"editor-{len(codenames)}", *codenames))
    return client


def _app_form(app: M2MApplication, roles: list[Role]) -> dict[str, Any]:
    return {
        "name": app.name,
        "description": app.description,
        "is_enabled": "on",
        "roles": [role.pk for role in roles],
        "secrets-TOTAL_FORMS": "0",
        "secrets-INITIAL_FORMS": "0",
    }


def test_the_permissions_exist() -> None:
    found = set(Permission.objects.filter(content_type__app_label="logto_m2m").values_list("codename", flat=True))
    assert {MANAGE, INSPECT} <= found


def test_adding_a_secret_to_the_management_app_needs_the_permission(client: Any, management_app: Any) -> None:
    _login(client, *EDITOR)
    change = client.get(f"{ADMIN}/m2mapplication/{management_app.pk}/change/").content.decode()
    assert "/secrets/add/" not in change  # the link is hidden
    url = f"{ADMIN}/m2mapplication/{management_app.pk}/secrets/add/"
    response = client.post(url, {"name": "backdoor", "expires_in": ""}, follow=True)
    assert "needs the permission" in response.content.decode()
    assert not ApplicationSecret.objects.filter(name="backdoor").exists()
    assert "client_secret" not in response.context or not response.context.get("client_secret")


def test_adding_a_secret_with_the_permission(client: Any, management_app: Any) -> None:
    _login(client, *EDITOR, MANAGE)
    url = f"{ADMIN}/m2mapplication/{management_app.pk}/secrets/add/"
    response = client.post(url, {"name": "rotation", "expires_in": ""})
    assert response.status_code == HTTPStatus.OK
    assert ApplicationSecret.objects.filter(name="rotation").exists()


def test_secrets_of_other_apps_need_no_extra_permission(client: Any, shop: Any) -> None:
    _login(client, *EDITOR)
    url = f"{ADMIN}/m2mapplication/{shop.app.pk}/secrets/add/"
    assert client.post(url, {"name": "ci", "expires_in": ""}).status_code == HTTPStatus.OK
    assert ApplicationSecret.objects.filter(name="ci").exists()


def test_granting_the_management_role_needs_the_permission(client: Any, shop: Any) -> None:
    role = ensure_management_role()
    _login(client, *EDITOR)
    url = f"{ADMIN}/m2mapplication/{shop.app.pk}/change/"
    response = client.post(url, _app_form(shop.app, [shop.role, role]))
    assert response.status_code == HTTPStatus.OK  # the form again, with the error
    assert "needs the permission" in response.content.decode()
    assert not shop.app.roles.filter(pk=role.pk).exists()
    # Keeping roles it already holds, or other roles, is fine.
    assert client.post(url, _app_form(shop.app, [shop.role])).status_code == HTTPStatus.FOUND


def test_creating_an_app_with_the_management_role_needs_the_permission(client: Any) -> None:
    role = ensure_management_role()
    _login(client, *EDITOR)
    response = client.post(f"{ADMIN}/m2mapplication/add/", {"name": "Sneaky", "description": "", "roles": [role.pk]})
    assert "needs the permission" in response.content.decode()
    assert not M2MApplication.objects.filter(application__name="Sneaky").exists()


def test_superuser_may_grant_the_management_role(admin_client: Any, shop: Any) -> None:
    role = ensure_management_role()
    response = admin_client.post(
        f"{ADMIN}/m2mapplication/{shop.app.pk}/change/", _app_form(shop.app, [shop.role, role])
    )
    assert response.status_code == HTTPStatus.FOUND
    assert shop.app.roles.filter(pk=role.pk).exists()


def test_adding_a_management_scope_to_a_held_role_needs_the_permission(client: Any, shop: Any) -> None:
    _, everything = ensure_management_resource()
    _login(client, *EDITOR)
    url = f"{ADMIN}/role/{shop.role.pk}/change/"
    form = {"name": shop.role.name, "description": shop.role.description, "scopes": [shop.read.pk, everything.pk]}
    response = client.post(url, form)
    assert response.status_code == HTTPStatus.OK
    assert "needs the permission" in response.content.decode()
    assert not shop.role.scopes.filter(pk=everything.pk).exists()
    _login(client, *EDITOR, MANAGE)
    assert client.post(url, form).status_code == HTTPStatus.FOUND
    assert shop.role.scopes.filter(pk=everything.pk).exists()


def test_the_token_inspector_needs_its_permission(client: Any, shop: Any) -> None:
    url = f"{ADMIN}/tokenactivity/inspect/"
    _login(client, *EDITOR, "view_tokenactivity")
    assert client.get(url).status_code == HTTPStatus.FORBIDDEN
    assert "tokenactivity/inspect/" not in client.get(f"{ADMIN}/m2mapplication/{shop.app.pk}/change/").content.decode()
    client.force_login(staff_user("inspector", "view_tokenactivity", INSPECT))
    assert client.get(url).status_code == HTTPStatus.OK


def test_roles_named_internal_cannot_be_made_in_the_admin(admin_client: Any) -> None:
    response = admin_client.post(f"{ADMIN}/role/add/", {"name": "#internal:mine", "description": "x"})
    assert response.status_code == HTTPStatus.OK
    assert "#internal:" in response.content.decode()
    assert not Role.objects.filter(name="#internal:mine").exists()
